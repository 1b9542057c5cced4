"""Who acts: the caller a use case checks and records in the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Principal:
    """Who calls: the token's id, name, role, operator (compared by dual control), the seals it may
    use, and when its credential expires (aware UTC, or None). ``actor`` is ``role:name``, the
    audit log's actor."""

    token_id: str
    name: str
    role: str
    seals: frozenset[str] = field(default_factory=frozenset)
    operator: str = ""
    expires_at: datetime | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"
