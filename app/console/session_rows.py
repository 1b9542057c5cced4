"""Signed-in console sessions as database rows, so signing out ends a session in every process:
each request reads its row by primary key. Sign-in, a failed sign-in and sign-out are audit events
written in the same transaction as the row (never the token itself)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import String, delete
from sqlalchemy.orm import Mapped, mapped_column

from app.console.sessions import Session
from app.tokens import Principal
from db.audit import record
from db.base import Base, Database, UTCDateTime, utcnow


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token_id: Mapped[str] = mapped_column(String(40), index=True)
    operator: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SessionRows:
    """Starts, checks and ends the signed-in sessions of one deployment's database."""

    def __init__(self, db: Database):
        self.db = db

    def start(self, session: Session, principal: Principal, client: str) -> None:
        """Store signed-in ``session`` (its ``expires`` is Unix seconds) and audit the sign-in; rows
        past their expiry are deleted (their history is in the audit log)."""
        with self.db.unit_of_work() as s:
            s.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= utcnow()))
            s.add(
                ConsoleSession(
                    id=session.session_id,
                    token_id=principal.token_id,
                    operator=principal.operator,
                    created_at=utcnow(),
                    expires_at=datetime.fromtimestamp(session.expires, UTC),
                )
            )
            record(
                s,
                principal.actor,
                "console.sign-in",
                principal.token_id,
                console_session=session.session_id,
                client=client,
            )

    def live(self, session: Session) -> bool:
        """True while the signed-in ``session``'s row exists for its token, unended and unexpired."""
        if not session.session_id:
            return False
        with self.db.read() as s:
            row = s.get(ConsoleSession, session.session_id)
        return (
            row is not None
            and row.token_id == session.token_id
            and row.ended_at is None
            and row.expires_at > utcnow()
        )

    def end(self, session: Session, actor: str, client: str) -> None:
        """End ``session`` (signing out) and audit it; a session already ended stays as it was."""
        with self.db.unit_of_work() as s:
            row = s.get(ConsoleSession, session.session_id, with_for_update=True)
            if row is None or row.ended_at is not None:
                return
            row.ended_at = utcnow()
            record(s, actor, "console.sign-out", row.token_id, console_session=row.id, client=client)

    def failed(self, client: str) -> None:
        """Audit a refused sign-in from ``client`` (an address); the presented token is not kept."""
        with self.db.unit_of_work() as s:
            record(s, "anonymous", "console.sign-in-failed", client)
