"""Proof that the audit log is whole: every seal in sequence, each MAC recomputed from its event
with the key that made it, no event outside the chain, and every signed checkpoint still matching
the chain (so removing the newest events and their seals shows too)."""

from dataclasses import dataclass

from apps.audit.chain import GENESIS, UnknownKey, macs_equal, seal_mac
from apps.audit.checkpoints import UnreadableCheckpoint, read_checkpoints
from apps.audit.models import AuditEvent, AuditPending, AuditSeal


@dataclass(frozen=True)
class ChainReport:
    rows_checked: int
    first_bad_id: int | None = None  # the first altered event, when one can be named
    problem: str = ""
    head: str = GENESIS
    pending: int = 0
    checkpoints_checked: int = 0

    @property
    def intact(self) -> bool:
        return not self.problem


def audit_chain_verify(*, chunk_size: int = 5000) -> ChainReport:
    prev_mac, checked = GENESIS, 0
    seals = AuditSeal.objects.select_related("event").order_by("seq")
    for seal in seals.iterator(chunk_size=chunk_size):
        problem = _seal_problem(seal, expected_seq=checked + 1, prev_mac=prev_mac)
        if problem:
            return ChainReport(checked, seal.event_id, problem, prev_mac)
        prev_mac = seal.mac
        checked += 1
    outside = (
        AuditEvent.objects.filter(seal__isnull=True)
        .exclude(pk__in=AuditPending.objects.values("event_id"))
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    if outside is not None:
        return ChainReport(
            checked, outside, "it is in no seal: it was written around Runway", prev_mac
        )
    pending = AuditPending.objects.count()
    try:
        checkpoints = read_checkpoints()
    except UnreadableCheckpoint as exc:
        return ChainReport(checked, None, str(exc), prev_mac, pending)
    problem = _checkpoint_problem(checkpoints, sealed=checked)
    return ChainReport(checked, None, problem, prev_mac, pending, len(checkpoints))


def _seal_problem(seal: AuditSeal, *, expected_seq: int, prev_mac: str) -> str:
    if seal.seq != expected_seq:
        return (
            f"seals {expected_seq} to {seal.seq - 1} are missing "
            "(the events they sealed were removed)"
        )
    if not macs_equal(seal.prev_mac, prev_mac):
        return "its link to the previous seal is broken (a seal before it was rewritten)"
    try:
        mac = seal_mac(seal.event, seq=seal.seq, prev_mac=seal.prev_mac, key_id=seal.key_id)
    except UnknownKey:
        return f"it was sealed with key {seal.key_id!r}, which this deployment does not hold"
    if not macs_equal(mac, seal.mac):
        return "its content does not match its seal"
    return ""


def _checkpoint_problem(checkpoints, *, sealed: int, chunk_size: int = 5000) -> str:
    for start in range(0, len(checkpoints), chunk_size):
        problem = _chunk_problem(checkpoints[start : start + chunk_size], sealed=sealed)
        if problem:
            return problem
    return ""


def _chunk_problem(checkpoints, *, sealed: int) -> str:
    seqs = {c.seq for c in checkpoints}
    macs = dict(AuditSeal.objects.filter(seq__in=seqs).values_list("seq", "mac"))
    for checkpoint in checkpoints:
        where = f"checkpoint line {checkpoint.line} ({checkpoint.at})"
        if not checkpoint.signed:
            return f"{where} is not signed by any key this deployment holds: it was forged"
        if checkpoint.seq > sealed:
            return (
                f"{where} saw {checkpoint.seq} sealed events, the log holds {sealed}: "
                "the newest events were removed"
            )
        if not macs_equal(macs.get(checkpoint.seq, ""), checkpoint.mac):
            return f"{where} does not match seal {checkpoint.seq}: the chain was rewritten"
    return ""
