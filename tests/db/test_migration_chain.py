"""The migration chain has one head, makes every table the models name, and the console sessions
revision goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import app.tables  # noqa: F401  (every model, for Base.metadata)
from app.migrate import alembic_config
from db.base import Base, Database


def _run(db: Database, step, revision: str) -> None:
    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        step(cfg, revision)
        conn.commit()


def _tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names())


def test_one_head_every_model_table_and_console_sessions_down_and_up(database_url):
    db = Database(database_url)
    try:
        heads = ScriptDirectory.from_config(alembic_config(db.url)).get_heads()
        assert len(heads) == 1, heads
        _run(db, command.upgrade, "head")
        assert set(Base.metadata.tables) <= _tables(db)
        _run(db, command.downgrade, "0010_kmc_key")
        assert "console_sessions" not in _tables(db) and "kmc_escrows" in _tables(db)
        _run(db, command.upgrade, "head")
        assert "console_sessions" in _tables(db)
    finally:
        db.dispose()
