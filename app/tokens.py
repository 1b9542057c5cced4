"""Bearer tokens: stored as SHA-256 hashes, each with one role, one operator (the person or system
answerable for it), an optional expiry and, for approval systems, its seals."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, Text, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from app import cert_credentials as certs
from core.errors import ErrorCode, conflict, invalid, not_found
from core.principal import Principal
from core.versioned import VersionedCache
from db.audit import record
from db.base import Base, Database, UTCDateTime, utcnow
from db.truth import Topic, bump
from policies.access import access_policy

log = logging.getLogger("longtrust")

TOUCH_INTERVAL_S = 60.0  # last_used_at is written at most this often per token and process
DEFAULT_TTL_ROLES = frozenset({"approval-system"})  # roles whose tokens expire by default
STATUSES = ("active", "revoked", "expired")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    operator: Mapped[str] = mapped_column(String(200), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    seals: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # SHA-256 of a client certificate that authenticates as this token (mTLS), if one is bound
    client_cert_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True, index=True)


@dataclass(frozen=True)
class TokenView:
    """A token as listed: never its secret. Times are aware UTC datetimes."""

    token_id: str
    name: str
    role: str
    operator: str
    seals: list[str]
    status: str  # active | revoked | expired
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    client_cert_sha256: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the secret is shown once, here, and only its hash is stored."""

    token: str
    view: TokenView

    @property
    def token_id(self) -> str:
        return self.view.token_id


def check_role(role: str) -> None:
    """Raise invalid unless ``role`` is one of access.yaml's roles."""
    roles = access_policy().roles
    if role not in roles:
        raise invalid(f"unknown role {role!r}; one of {', '.join(sorted(roles))}", ErrorCode.UNKNOWN_ROLE)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _view(row: ApiToken, now: datetime) -> TokenView:
    status = "active"
    if row.revoked_at is not None:
        status = "revoked"
    elif row.expires_at is not None and row.expires_at <= now:
        status = "expired"
    return TokenView(
        row.id,
        row.name,
        row.role,
        row.operator,
        json.loads(row.seals),
        status,
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
        row.client_cert_sha256,
    )


class TokenService:
    """Creates, lists, revokes and authenticates tokens. Authentication answers come from a
    per-process cache that empties whenever the truth generation moves on (every create, grant and
    revocation bumps it), so a revocation anywhere is honoured by every process on its next request."""

    def __init__(self, db: Database, default_ttl_days: float | None = 365):
        self.db = db
        self.default_ttl_days = default_ttl_days
        self._cache: VersionedCache[str, Principal | None] = VersionedCache(db.generation.watch(Topic.TOKENS))
        self._cert_cache: VersionedCache[str, Principal | None] = VersionedCache(
            db.generation.watch(Topic.TOKENS, Topic.REVOCATIONS, Topic.CAS)
        )
        self._touched: dict[str, float] = {}
        self._touch_lock = threading.Lock()

    def issue(
        self,
        session: Session,
        role: str,
        name: str,
        actor: str,
        seals: list[str] = (),
        operator: str | None = None,
        expires_in_s: float | None = None,
        client_cert_der: bytes | None = None,
    ) -> IssuedToken:
        """A new token of ``role``; ``operator`` defaults to ``name``. Without ``expires_in_s``
        (seconds), approval-system tokens expire after the default lifetime and others never. With
        ``client_cert_der`` (DER X.509, issued by this deployment's CA for clientAuth), that client
        certificate authenticates as the token too (mTLS, RFC 8446 §4.4.2).
        Raises invalid for an unknown role, an empty name, a non-positive lifetime or an unusable
        certificate, conflict when the certificate is bound to another token."""
        check_role(role)
        operator = (operator if operator is not None else name).strip()
        if not name.strip() or not operator:
            raise invalid("a token needs a name and an operator", ErrorCode.MISSING_NAME)
        now, token = utcnow(), "lt_" + secrets.token_urlsafe(32)
        row = ApiToken(
            id="tok-" + secrets.token_hex(6),
            name=name,
            role=role,
            operator=operator,
            token_hash=_hash(token),
            seals=json.dumps(sorted(seals)),
            created_at=now,
            expires_at=self._expiry(role, now, expires_in_s),
            client_cert_sha256=self._bindable(session, client_cert_der, now),
        )
        session.add(row)
        bump(session, Topic.TOKENS)  # a cache may hold "unknown" for this hash
        record(
            session,
            actor,
            "token.create",
            row.id,
            name=name,
            role=role,
            operator=operator,
            seals=sorted(seals),
            expires_at=row.expires_at,
            client_cert_sha256=row.client_cert_sha256,
        )
        return IssuedToken(token, _view(row, now))

    def create(self, session: Session, role: str, name: str, actor: str, seals: list[str] = (), **kw) -> str:
        """Like :meth:`issue`, returning only the secret token."""
        return self.issue(session, role, name, actor, seals, **kw).token

    @staticmethod
    def _bindable(session: Session, der: bytes | None, now: datetime) -> str | None:
        if der is None:
            return None
        problem = certs.issued_problem(session, der, now)
        if problem:
            raise invalid(problem, ErrorCode.CLIENT_CERTIFICATE)
        digest = certs.fingerprint(der)
        if session.scalar(select(ApiToken.id).where(ApiToken.client_cert_sha256 == digest)):
            raise conflict(
                "this client certificate is already bound to a token", ErrorCode.CLIENT_CERTIFICATE_BOUND
            )
        return digest

    def _expiry(self, role: str, now: datetime, expires_in_s: float | None) -> datetime | None:
        if expires_in_s is not None:
            if expires_in_s <= 0:
                raise invalid("expires_in_s must be positive", ErrorCode.EXPIRY)
            return now + timedelta(seconds=expires_in_s)
        if role in DEFAULT_TTL_ROLES and self.default_ttl_days:
            return now + timedelta(days=self.default_ttl_days)
        return None

    def revoke(self, session: Session, token_id: str, actor: str) -> TokenView:
        """Revoke a token at once in every process. not_found for an unknown id, conflict if revoked."""
        row = session.get(ApiToken, token_id, with_for_update=True)
        if row is None:
            raise not_found(f"no token {token_id}")
        if row.revoked_at is not None:
            raise conflict(f"token {token_id} is already revoked", ErrorCode.TOKEN_REVOKED)
        row.revoked_at = utcnow()
        bump(session, Topic.TOKENS)
        record(session, actor, "token.revoke", token_id, name=row.name, operator=row.operator)
        return _view(row, row.revoked_at)

    def list(
        self,
        limit: int = 100,
        cursor: str | None = None,
        role: str | None = None,
        operator: str | None = None,
        status: str | None = None,
    ) -> tuple[list[TokenView], str | None]:
        """Tokens ordered by id after ``cursor``: (page, next cursor or None)."""
        now = utcnow()
        query = select(ApiToken).order_by(ApiToken.id).limit(limit + 1)
        if cursor:
            query = query.where(ApiToken.id > cursor)
        if role:
            query = query.where(ApiToken.role == role)
        if operator:
            query = query.where(ApiToken.operator == operator)
        if status:
            query = query.where(*self._status_filter(status, now))
        with self.db.read() as s:
            rows = list(s.scalars(query))
        page = [_view(r, now) for r in rows[:limit]]
        return page, (page[-1].token_id if len(rows) > limit else None)

    @staticmethod
    def _status_filter(status: str, now: datetime) -> list:
        live = ApiToken.revoked_at.is_(None)
        if status == "revoked":
            return [ApiToken.revoked_at.is_not(None)]
        if status == "expired":
            return [live, ApiToken.expires_at <= now]
        if status == "active":
            return [live, or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now)]
        raise invalid(f"status must be one of {', '.join(STATUSES)}", ErrorCode.STATUS)

    def authenticate(self, token: str) -> Principal | None:
        """The token's principal, or None when it is unknown, revoked or expired."""
        digest = _hash(token)
        principal = self._cache.get_or_load(digest, lambda: self._load(digest))
        if principal is None or (principal.expires_at is not None and principal.expires_at <= utcnow()):
            return None
        self._touch(principal.token_id)
        return principal

    def by_id(self, token_id: str) -> Principal | None:
        """The principal of token ``token_id`` (a console session holds only the id), or None when
        it is unknown, revoked or expired; answered from the same cache as :meth:`authenticate`."""
        principal = self._cache.get_or_load("id:" + token_id, lambda: self._load(token_id, ApiToken.id))
        if principal is None or (principal.expires_at is not None and principal.expires_at <= utcnow()):
            return None
        return principal

    def authenticate_certificate(self, der: bytes) -> Principal | None:
        """The principal of the token ``der`` (a client certificate) is bound to, or None when it is
        bound to none, or the token or certificate is revoked or expired, or its CA is not active.
        Answers are cached until a token, a certificate's status or a CA changes in any process."""
        digest = certs.fingerprint(der)
        principal = self._cert_cache.get_or_load(digest, lambda: self._load_bound(der, digest))
        if principal is None or (principal.expires_at is not None and principal.expires_at <= utcnow()):
            return None
        self._touch(principal.token_id)
        return principal

    def _load_bound(self, der: bytes, digest: str) -> Principal | None:
        with self.db.read() as s:
            row = s.scalars(select(ApiToken).where(ApiToken.client_cert_sha256 == digest)).first()
            if row is None or row.revoked_at is not None or certs.issued_problem(s, der, utcnow()):
                return None
        expires = min(e for e in (row.expires_at, certs.not_after(der)) if e is not None)
        return Principal(row.id, row.name, row.role, frozenset(json.loads(row.seals)), row.operator, expires)

    def _load(self, key: str, column=ApiToken.token_hash) -> Principal | None:
        with self.db.read() as s:
            row = s.scalars(select(ApiToken).where(column == key)).first()
        if row is None or row.revoked_at is not None:
            return None
        return Principal(
            row.id, row.name, row.role, frozenset(json.loads(row.seals)), row.operator, row.expires_at
        )

    def _touch(self, token_id: str) -> None:
        """Record the token's last use, at most once per TOUCH_INTERVAL_S in this process."""
        now = time.monotonic()
        with self._touch_lock:
            last = self._touched.get(token_id)
            if last is not None and now - last < TOUCH_INTERVAL_S:
                return
            if len(self._touched) > 10_000:
                self._touched.clear()
            self._touched[token_id] = now
        try:
            with self.db.unit_of_work() as s:
                s.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))
        except SQLAlchemyError:  # usage telemetry only: the request it accompanies goes on
            log.warning("could not record the last use of token %s", token_id)

    def grant_seal(self, session: Session, token_id: str, seal_id: str, actor: str) -> None:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise invalid(f"no token {token_id}", ErrorCode.UNKNOWN_TOKEN)
        row.seals = json.dumps(sorted(set(json.loads(row.seals)) | {seal_id}))
        bump(session, Topic.TOKENS)
        record(session, actor, "token.grant-seal", token_id, seal_id=seal_id)
