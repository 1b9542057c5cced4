"""The audit log: one event per state change, written in the change's own transaction.

Events form a hash chain: each stores the hash of the previous event, and its own
hash covers its sequence number, content and that previous hash. Changing,
removing or reordering any event breaks the chain at that point.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, String, Text, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from db.base import Base, UTCDateTime, utcnow

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x4C54_4155  # advisory lock key serialising appends on PostgreSQL


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _canonical(details: dict) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_hash(
    seq: int, at: datetime, actor: str, action: str, subject: str, details: str, prev: str
) -> str:
    body = json.dumps(
        [seq, at.astimezone(UTC).isoformat(timespec="milliseconds"), actor, action, subject, details, prev],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


_TAIL = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_APPEND = insert(AuditEvent.__table__)


def record(session: Session, actor: str, action: str, target: str, **details) -> str:
    """Append an event to the chain inside the caller's transaction; returns its hash."""
    session.flush()  # pending ORM changes first, so the event follows what it records
    conn = session.connection()  # Core on the session's connection: this runs on every state change
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = conn.execute(_TAIL).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    now = utcnow()
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)
    body = _canonical(details)
    digest = _event_hash(seq, at, actor, action, target, body, prev)
    conn.execute(_APPEND, {"seq": seq, "at": at, "actor": actor, "action": action, "subject": target,
                           "details": body, "prev_hash": prev, "hash": digest})
    return digest


@dataclass
class ChainProblem:
    seq: int
    problem: str


def verify_chain(session: Session, batch: int = 5000) -> tuple[int, list[ChainProblem]]:
    """Walk the whole log; returns (events checked, problems found)."""
    problems: list[ChainProblem] = []
    expected_seq, prev, count, after = 1, GENESIS, 0, 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            count += 1
            if ev.seq != expected_seq:
                problems.append(ChainProblem(ev.seq, f"events {expected_seq}..{ev.seq - 1} are missing"))
            if ev.prev_hash != prev:
                problems.append(
                    ChainProblem(ev.seq, "does not link to the previous event (removed or reordered)")
                )
            actual = _event_hash(ev.seq, ev.at, ev.actor, ev.action, ev.subject, ev.details, ev.prev_hash)
            if actual != ev.hash:
                problems.append(ChainProblem(ev.seq, "content was changed after it was written"))
            prev, expected_seq, after = ev.hash, ev.seq + 1, ev.seq
    return count, problems
