"""What a check concluded, and why, in words a person can act on."""

from dataclasses import dataclass


class BadEvidence(ValueError):
    """Evidence that cannot even be read (not base64, not JSON, a field missing or of the wrong
    type): refused on upload with the field it names, never stored."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass(frozen=True)
class Finding:
    requirement: str  # what was asked, e.g. "signature", "provenance: builder"
    passed: bool
    detail: str  # why: which key, which field, which vulnerability
    waiting: bool = False  # nothing uploaded yet: CI may still send it

    def as_dict(self) -> dict:
        return {"requirement": self.requirement, "passed": self.passed, "detail": self.detail}


def waiting(requirement: str, detail: str) -> Finding:
    return Finding(requirement, False, detail, waiting=True)


def passed(requirement: str, detail: str) -> Finding:
    return Finding(requirement, True, detail)


def failed(requirement: str, detail: str) -> Finding:
    return Finding(requirement, False, detail)
