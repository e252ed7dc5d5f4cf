"""The one retry policy of Runway's Celery tasks that retry.

Such a task is acknowledged only once it has run (a worker that dies leaves it on its queue) and,
when it fails with one of the errors it names, runs again after an exponential, jittered backoff
of at most ten minutes, up to `max_retries` times. Each task says which errors are worth waiting
out and how many times; tasks retried like this must be idempotent.
"""

from celery import shared_task

RETRY_BACKOFF_MAX_SECONDS = 600


def retried_task(name: str, *, retry_on: tuple[type[BaseException], ...], max_retries: int):
    """`shared_task` under the wire name `name`, with the policy above."""
    return shared_task(
        name=name,
        acks_late=True,
        autoretry_for=retry_on,
        retry_backoff=True,
        retry_backoff_max=RETRY_BACKOFF_MAX_SECONDS,
        max_retries=max_retries,
    )
