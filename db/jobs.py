"""Periodic jobs that run once across every worker and host sharing the database.

A job is claimed by moving its ``started_at`` forward in a short transaction that holds the row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the transaction itself holds the write lock), so of
all the processes whose schedulers tick at the same time exactly one runs it per interval. A process
that dies while running a job only delays it until the next interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Database, UTCDateTime


class JobRun(Base):
    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(200))


def claim(db: Database, name: str, interval: timedelta, now: datetime, worker: str) -> bool:
    """True when this caller should run job ``name`` now: it last started ``interval`` ago or never.

    ``worker`` (host and process id) is stored for operators. Never raises for a lost race."""
    try:
        with db.unit_of_work() as s:
            run = s.scalars(select(JobRun).where(JobRun.name == name).with_for_update()).first()
            if run is None:
                s.add(JobRun(name=name, started_at=now, started_by=worker))
                return True
            if run.started_at + interval > now:
                return False
            run.started_at, run.started_by = now, worker
            return True
    except IntegrityError:  # another process created the row first: it runs the job
        return False
