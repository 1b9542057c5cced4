"""audit log: an event's position is held by its leaf; events are written once, never updated

The sequencer placed each event by updating ``audit_events.seq``. ``seq`` was indexed, so the update
could not be heap-only on PostgreSQL: every event was written a second time, with new entries in
every index of the table. The tree's leaf ``(0, i)`` now names its event (``audit_tree.event_id``),
``seq`` and its two indexes go, and the events waiting for the sequencer are found from its
low-water mark (table ``audit_sequencer``, see db.audit).

Revision ID: 0014_audit_positions_in_leaves
Revises: 0013_revoked_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_audit_positions_in_leaves"
down_revision = "0013_revoked_index"

_LEAF = sa.text("event_id IS NOT NULL")
_UNSEQUENCED = sa.text("seq IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("audit_tree") as batch:
        batch.add_column(sa.Column("event_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE audit_tree SET event_id = (SELECT e.id FROM audit_events e WHERE e.seq = audit_tree.idx + 1)"
        " WHERE level = 0"
    )
    op.create_index(
        "ix_audit_tree_event",
        "audit_tree",
        ["event_id"],
        unique=True,
        postgresql_where=_LEAF,
        sqlite_where=_LEAF,
    )
    op.create_table(
        "audit_sequencer",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("low_water", sa.BigInteger(), nullable=False),
        sa.Column("candidate", sa.BigInteger(), nullable=True),
        sa.Column("waits_for", sa.Text(), nullable=True),
    )
    # Every event below the first unsequenced one is in the tree (migrations run with the service down).
    op.execute(
        "INSERT INTO audit_sequencer (id, low_water) SELECT 1, COALESCE("
        "(SELECT MIN(id) - 1 FROM audit_events WHERE seq IS NULL), (SELECT MAX(id) FROM audit_events), 0)"
    )
    # SQLite: AUTOINCREMENT, so that the id of a deleted last row is not given again (below the mark).
    with op.batch_alter_table("audit_events", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_index("ix_audit_events_unsequenced")
        batch.drop_constraint("uq_audit_events_seq", type_="unique")
        batch.drop_column("seq")


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.create_unique_constraint("uq_audit_events_seq", ["seq"])
    op.execute(
        "UPDATE audit_events SET seq = (SELECT t.idx + 1 FROM audit_tree t"
        " WHERE t.level = 0 AND t.event_id = audit_events.id)"
    )
    op.create_index(
        "ix_audit_events_unsequenced",
        "audit_events",
        ["id"],
        postgresql_where=_UNSEQUENCED,
        sqlite_where=_UNSEQUENCED,
    )
    op.drop_table("audit_sequencer")
    op.drop_index("ix_audit_tree_event", table_name="audit_tree")
    with op.batch_alter_table("audit_tree") as batch:
        batch.drop_column("event_id")
