"""What a delivery says, vendor-neutral. Parsers turn payloads into these; the services record
them. None of them touches the database."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    committed_at: datetime | None = None


@dataclass(frozen=True)
class ServiceRef:
    """How the delivery names its service. A repository or an incident tool's service name that
    matches nothing leaves the delivery unmatched, for an admin to map; a Runway service name
    (the generic shapes) must exist."""

    repository: str = ""
    incident_service: str = ""
    service_name: str = ""


@dataclass(frozen=True)
class DeploymentEvent:
    service: ServiceRef
    source: str
    external_id: str
    environment: str
    version: str
    result: str
    finished_at: datetime
    started_at: datetime | None = None  # None: the start of an earlier delivery, or the finish
    production_hint: bool | None = None
    commits: tuple[CommitInfo, ...] = ()
    head_sha: str = ""

    @property
    def subject(self) -> str:
        return self.external_id

    @property
    def occurred_at(self) -> datetime:
        return self.finished_at


@dataclass(frozen=True)
class PushEvent:
    service: ServiceRef
    head_sha: str
    commits: tuple[CommitInfo, ...]

    @property
    def subject(self) -> str:
        return self.head_sha

    @property
    def occurred_at(self) -> datetime | None:
        times = [c.committed_at for c in self.commits if c.committed_at]
        return max(times) if times else None


@dataclass(frozen=True)
class PipelineEvent:
    service: ServiceRef
    source: str
    external_id: str
    status: str
    started_at: datetime
    finished_at: datetime
    duration_seconds: int
    name: str = ""
    ref: str = ""
    sha: str = ""

    @property
    def subject(self) -> str:
        return self.external_id

    @property
    def occurred_at(self) -> datetime:
        return self.finished_at


@dataclass(frozen=True)
class IncidentEvent:
    service: ServiceRef
    source: str
    external_id: str
    title: str = ""
    opened_at: datetime | None = None
    resolved_at: datetime | None = None
    reopened: bool = False
    caused_by_version: str = ""

    @property
    def subject(self) -> str:
        return self.external_id

    @property
    def occurred_at(self) -> datetime | None:
        return self.resolved_at or self.opened_at


@dataclass(frozen=True)
class Ignored:
    """Accepted and acknowledged (202), but nothing to record. `subject` and `occurred_at` are
    kept on the delivery: a deployment's start is read back from its `running` delivery."""

    reason: str
    subject: str = ""
    occurred_at: datetime | None = None


Interpretation = DeploymentEvent | PushEvent | PipelineEvent | IncidentEvent | Ignored
