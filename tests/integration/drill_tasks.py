"""The task the broker drills queue (workers load it with --include): each run is a line in a
file, so a drill can tell that every task ran, and ran once."""

from celery import shared_task


@shared_task(name="tests.drill.record", acks_late=True)
def record(path: str, token: str) -> None:
    with open(path, "a") as runs:
        runs.write(f"{token}\n")
