"""job runs: periodic jobs run once across all workers and hosts

Revision ID: 0003a
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0003a"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("started_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_runs")
