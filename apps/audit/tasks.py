from celery import shared_task


@shared_task(name="audit.seal", acks_late=True, max_retries=0)
def audit_seal_task() -> int:
    """Beat, every minute: seal events whose writer's own sealing after commit did not happen
    (a crash in between). Idempotent: sealed events have left the pending table."""
    from apps.audit.services import audit_seal

    return audit_seal()


@shared_task(name="audit.checkpoint", acks_late=True, max_retries=0)
def audit_checkpoint_task() -> int | None:
    """Beat, every 10 minutes: sign the chain's head into the checkpoint file."""
    from apps.audit.checkpoints import audit_checkpoint
    from apps.audit.services import audit_seal

    audit_seal()
    checkpoint = audit_checkpoint()
    return checkpoint.seq if checkpoint else None
