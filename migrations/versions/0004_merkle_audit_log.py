"""merkle audit log: events written unsequenced, a sequencer, tree nodes, signed checkpoints, hub witness

Revision ID: 0004
Revises: 0003c
"""

import sqlalchemy as sa
from alembic import op

import db.base
from db.audit import canonical_bytes

revision = "0004"
down_revision = "0003c"

_UTC = db.base.UTCDateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _events_table(name: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("canonical", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        sa.UniqueConstraint("seq", name="uq_audit_events_seq"),
    )


def _copy_events(new: sa.Table) -> None:
    """Old chain events become unsequenced events in their old order (id = old seq); the
    sequencer then puts them in the tree first."""
    conn = op.get_bind()
    old = sa.table(
        "audit_events", *(sa.column(c) for c in ("seq", "at", "actor", "action", "subject", "details"))
    )
    old.c.at.type = _UTC
    rows = conn.execute(sa.select(old).order_by(old.c.seq)).mappings().all()
    if rows:
        op.bulk_insert(
            new,
            [
                {
                    "id": r["seq"],
                    "seq": None,
                    "at": r["at"],
                    "actor": r["actor"],
                    "action": r["action"],
                    "subject": r["subject"],
                    "details": r["details"],
                    "canonical": canonical_bytes(
                        r["at"], r["actor"], r["action"], r["subject"], r["details"]
                    ),
                }
                for r in rows
            ],
        )


def upgrade() -> None:
    new = _events_table("audit_events_v2")
    _copy_events(new)
    op.drop_table("audit_events")
    op.rename_table("audit_events_v2", "audit_events")
    if op.get_bind().dialect.name == "postgresql":  # ids were copied explicitly: move the sequence on
        op.execute(
            "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), "
            "(SELECT coalesce(max(id), 0) + 1 FROM audit_events), false)"
        )
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_subject", "audit_events", ["subject"])
    op.create_index(
        "ix_audit_events_unsequenced",
        "audit_events",
        ["id"],
        postgresql_where=sa.text("seq IS NULL"),
        sqlite_where=sa.text("seq IS NULL"),
    )
    op.create_table(
        "audit_tree",
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("idx", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", _UTC, nullable=False),
        sa.Column("key_ref", sa.String(length=100), nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    op.create_table(
        "hub_audit_checkpoints",
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("timestamp", _UTC, nullable=False),
        sa.Column("algorithm", sa.String(length=40), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("region", "tree_size"),
    )


def downgrade() -> None:
    raise RuntimeError("the Merkle audit log cannot be turned back into a hash chain: restore a backup")
