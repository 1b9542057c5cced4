"""client certificates as credentials: bound to API tokens and to hub regions; issuer codes per region

Revision ID: 0012_mtls
Revises: 0011_console
"""

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0012_mtls"
down_revision = "0011_console"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("client_cert_sha256", sa.String(length=64), nullable=True))
        batch.create_index("ix_api_tokens_client_cert_sha256", ["client_cert_sha256"], unique=True)
    with op.batch_alter_table("hub_regions") as batch:
        batch.add_column(sa.Column("client_cert_sha256", sa.String(length=64), nullable=True))
        batch.create_index("ix_hub_regions_client_cert_sha256", ["client_cert_sha256"], unique=True)
    op.create_table(
        "hub_issuer_codes",
        sa.Column("issuer_code", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("bound_by", sa.String(length=200), nullable=False),
        sa.Column("bound_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issuer_code"),
    )
    op.create_index("ix_hub_issuer_codes_region", "hub_issuer_codes", ["region"])


def downgrade() -> None:
    op.drop_index("ix_hub_issuer_codes_region", table_name="hub_issuer_codes")
    op.drop_table("hub_issuer_codes")
    with op.batch_alter_table("hub_regions") as batch:
        batch.drop_index("ix_hub_regions_client_cert_sha256")
        batch.drop_column("client_cert_sha256")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_client_cert_sha256")
        batch.drop_column("client_cert_sha256")
