"""license shares can be withdrawn by the holder

Revision ID: 0003c
Revises: 0003b
"""

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0003c"
down_revision = "0003b"


def upgrade() -> None:
    with op.batch_alter_table("lic_shares") as batch:
        batch.add_column(sa.Column("withdrawn_at", db.base.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lic_shares") as batch:
        batch.drop_column("withdrawn_at")
