"""Bearer tokens: stored as SHA-256 hashes, each with one role and, for approval systems, its seals."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import invalid
from db.audit import record
from db.base import Base, Database, UTCDateTime, utcnow
from policies.access import access_policy


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    seals: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str
    seals: frozenset[str] = field(default_factory=frozenset)

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}"


CACHE_S = 5.0  # how long a grant or revocation can take to reach another worker


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, db: Database):
        self.db = db
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    def create(self, session: Session, role: str, name: str, actor: str, seals: list[str] = ()) -> str:
        if role not in access_policy().roles:
            raise invalid(
                f"unknown role {role!r}; one of {', '.join(sorted(access_policy().roles))}", "unknown-role"
            )
        if not name.strip():
            raise invalid("a token needs a name", "missing-name")
        token = "lt_" + secrets.token_urlsafe(32)
        token_id = "tok-" + secrets.token_hex(6)
        session.add(
            ApiToken(
                id=token_id,
                name=name,
                role=role,
                token_hash=_hash(token),
                seals=json.dumps(sorted(seals)),
                created_at=utcnow(),
            )
        )
        record(session, actor, "token.create", token_id, name=name, role=role, seals=sorted(seals))
        return token

    def authenticate(self, token: str) -> Principal | None:
        """The token's principal; answers are cached for CACHE_S seconds per process."""
        digest = _hash(token)
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        with self.db.read() as s:
            row = s.scalars(select(ApiToken).where(ApiToken.token_hash == digest)).first()
        principal = None
        if row is not None and row.revoked_at is None:
            principal = Principal(row.id, row.name, row.role, frozenset(json.loads(row.seals)))
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (principal, time.monotonic() + CACHE_S)
        return principal

    def grant_seal(self, session: Session, token_id: str, seal_id: str, actor: str) -> None:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise invalid(f"no token {token_id}", "unknown-token")
        row.seals = json.dumps(sorted(set(json.loads(row.seals)) | {seal_id}))
        self._cache.pop(row.token_hash, None)
        record(session, actor, "token.grant-seal", token_id, seal_id=seal_id)
