from dataclasses import dataclass

from apps.audit.chain import GENESIS, event_hash
from apps.audit.models import AuditEvent


@dataclass(frozen=True)
class ChainReport:
    rows_checked: int
    first_bad_id: int | None = None
    problem: str = ""
    head: str = GENESIS

    @property
    def intact(self) -> bool:
        return self.first_bad_id is None


def audit_chain_verify(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the chain in order and report the first row whose content or link was altered."""
    prev_hash = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=chunk_size):
        if event.prev_hash != prev_hash:
            return ChainReport(
                checked,
                event.id,
                "its link to the previous row is broken "
                "(a row before it was removed, inserted or rewritten)",
                prev_hash,
            )
        if event_hash(event, event.prev_hash) != event.hash:
            return ChainReport(checked, event.id, "its content does not match its hash", prev_hash)
        prev_hash = event.hash
        checked += 1
    return ChainReport(checked, head=prev_hash)
