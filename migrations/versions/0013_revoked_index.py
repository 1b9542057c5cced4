"""certificates: the revocation index holds only revoked rows; rows stay whole on PostgreSQL

The index on (ca_id, shard, status) led with ca_id, so PostgreSQL could take it for the lookup of one
serial (scanning a CA's every certificate), and it made completing an intent (status intent -> good)
update every index of the row. A partial index on (ca_id, shard) where revoked_at is set serves the
CRL query alone.

A completed row (TBS, certificate and the rest, about 2.5 KB) passed PostgreSQL's default TOAST
threshold of about 2 KB, so every completion tried to compress the certificate and then moved it to
the TOAST table (a second heap and index insert; a second read for every lookup). toast_tuple_target
4080 keeps rows below 4 KB in the heap, uncompressed (DER hardly compresses). An intent is less
than half of its completed row, so inserts fill pages only half (fillfactor 50): the completion
finds room on the intent's page, which a HOT update needs, and completed pages end as full as
before.

Revision ID: 0013_revoked_index
Revises: 0012_mtls
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_revoked_index"
down_revision = "0012_mtls"

_REVOKED = sa.text("revoked_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_index("ix_certificates_revoked")
        batch.create_index(
            "ix_certificates_revoked",
            ["ca_id", "shard"],
            postgresql_where=_REVOKED,
            sqlite_where=_REVOKED,
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE certificates SET (toast_tuple_target = 4080, fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE certificates RESET (toast_tuple_target, fillfactor)")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_index("ix_certificates_revoked")
        batch.create_index("ix_certificates_revoked", ["ca_id", "shard", "status"])
