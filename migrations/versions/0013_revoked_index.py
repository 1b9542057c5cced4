"""certificates: the revocation index holds only revoked rows

The index on (ca_id, shard, status) led with ca_id, so PostgreSQL could take it for the lookup of one
serial (scanning a CA's every certificate), and it made completing an intent (status intent -> good)
update every index of the row. A partial index on (ca_id, shard) where revoked_at is set serves the
CRL query alone.

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


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_index("ix_certificates_revoked")
        batch.create_index("ix_certificates_revoked", ["ca_id", "shard", "status"])
