"""Container image references as people read them: the repository's last name and the tag in
full, the registry and namespace shortened, the digest cut to what tells two builds apart.

    registry.example.com:5000/payments/api:1.4.2@sha256:9f86d0… → …/api:1.4.2@sha256:9f86d081884c
"""

from dataclasses import dataclass

DIGEST_SHOWN = 12  # hex characters of a digest: enough to tell builds apart at a glance


@dataclass(frozen=True)
class ImageRef:
    repository: str  # registry/namespace/name, as given
    tag: str
    digest: str  # "sha256:<hex>", or ""

    @classmethod
    def parse(cls, reference: str) -> "ImageRef":
        rest, _, digest = reference.strip().partition("@")
        # A tag follows the last colon after the last slash: "host:5000/app" has a port, no tag.
        name_start = rest.rfind("/") + 1
        colon = rest.rfind(":")
        if colon > name_start:
            return cls(rest[:colon], rest[colon + 1 :], digest)
        return cls(rest, "", digest)

    @property
    def name(self) -> str:
        return self.repository.rsplit("/", 1)[-1]

    @property
    def short(self) -> str:
        """The name, tag and a digest prefix; "…/" says a registry or namespace was left out."""
        name = ("…/" if "/" in self.repository else "") + self.name
        return self._with_tag_and_digest(name)

    @property
    def short_digest(self) -> str:
        """The whole repository and tag, the digest cut: for titles that have room."""
        return self._with_tag_and_digest(self.repository)

    def _with_tag_and_digest(self, name: str) -> str:
        text = f"{name}:{self.tag}" if self.tag else name
        if self.digest:
            algorithm, _, value = self.digest.partition(":")
            text += f"@{algorithm}:{value[:DIGEST_SHOWN]}" if value else f"@{self.digest}"
        return text
