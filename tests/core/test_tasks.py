"""Celery tasks keep their wire names (beat, outbox rows and queued messages use them), the
retried ones share one policy, and every tasks module loads its services inside the task, so
that services may import their tasks to queue them."""

import ast
from pathlib import Path

from django.conf import settings
from django.db import OperationalError

from apps.core.retries import RETRY_BACKOFF_MAX_SECONDS
from apps.core.tasks import (
    idempotency_keys_forget_task,
    outbox_flush_task,
    worker_heartbeat_record_task,
)
from apps.insights.tasks import (
    deployment_record_task,
    deployments_record_missed_task,
    rollups_refresh_task,
    scorecards_refresh_task,
    scorecards_snapshot_task,
)
from apps.releases.tasks import (
    release_notify_task,
    releases_auto_promote_task,
    releases_due_start_task,
)
from apps.rollouts.tasks import (
    rollout_advance_task,
    rollouts_dispatch_task,
    rollouts_reconcile_task,
    train_step_task,
    trains_reconcile_task,
)

ROOT = Path(__file__).resolve().parents[2]


def test_each_task_keeps_its_wire_name():
    names = {
        worker_heartbeat_record_task: "core.heartbeat",
        outbox_flush_task: "core.outbox_flush",
        idempotency_keys_forget_task: "core.idempotency_keys_forget",
        release_notify_task: "releases.notify",
        releases_due_start_task: "releases.start_due",
        releases_auto_promote_task: "releases.auto_promote",
        rollout_advance_task: "rollouts.advance",
        rollouts_dispatch_task: "rollouts.dispatch",
        rollouts_reconcile_task: "rollouts.reconcile",
        train_step_task: "rollouts.train_step",
        trains_reconcile_task: "rollouts.trains_reconcile",
        rollups_refresh_task: "insights.refresh_rollups",
        deployment_record_task: "insights.record_deployment",
        deployments_record_missed_task: "insights.record_missed_deployments",
        scorecards_refresh_task: "insights.refresh_scorecards",
        scorecards_snapshot_task: "insights.snapshot_scorecards",
    }
    assert [task.name for task in names] == list(names.values())
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= set(names.values()) | {"audit.seal", "audit.checkpoint"}


def policy(task) -> tuple:
    return (
        task.acks_late,
        tuple(task.autoretry_for),
        task.retry_backoff,
        task.retry_backoff_max,
        task.max_retries,
    )


def test_retried_tasks_wait_out_their_own_errors_with_one_backoff():
    backoff = RETRY_BACKOFF_MAX_SECONDS
    assert backoff == 600
    assert policy(release_notify_task) == (True, (OSError,), True, backoff, 8)
    assert policy(worker_heartbeat_record_task) == (True, (Exception,), True, backoff, 3)
    for task in (
        rollups_refresh_task,
        deployment_record_task,
        deployments_record_missed_task,
        scorecards_refresh_task,
        scorecards_snapshot_task,
        releases_auto_promote_task,
    ):
        assert policy(task) == (True, (OperationalError,), True, backoff, 3), task.name


def test_tasks_modules_import_no_services_at_the_top():
    for path in sorted(ROOT.glob("apps/*/tasks.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom):
                imported = [node.module or ""] + [
                    f"{node.module}.{alias.name}" for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            else:
                continue
            assert not any(
                name.endswith((".services", ".notifications")) or ".services." in name
                for name in imported
            ), f"{path.relative_to(ROOT)} imports {imported} at the top"
