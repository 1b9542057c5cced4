"""hub license index: the identifier that superseded a changed license

Revision ID: 0003b
Revises: 0003a
"""

import sqlalchemy as sa
from alembic import op

revision = "0003b"
down_revision = "0003a"


def upgrade() -> None:
    with op.batch_alter_table("hub_licenses") as batch:
        batch.add_column(sa.Column("superseded_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hub_licenses") as batch:
        batch.drop_column("superseded_by")
