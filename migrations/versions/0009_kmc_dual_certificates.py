"""key management centre: escrowed encryption keys, certificate pairs, key recoveries

Revision ID: 0009
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0009"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "kmc_escrows",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("algorithm", sa.String(length=20), nullable=False),
        sa.Column("public_key_der", sa.LargeBinary(), nullable=False),
        sa.Column("encrypted_private_key", sa.LargeBinary(), nullable=False),
        sa.Column("ca_id", sa.String(length=64), nullable=True),
        sa.Column("serial_hex", sa.String(length=42), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ca_id", "serial_hex"),
    )
    op.create_table(
        "certificate_pairs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("signing_serial_hex", sa.String(length=42), nullable=False),
        sa.Column("encryption_serial_hex", sa.String(length=42), nullable=False),
        sa.Column("escrow_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["ca_id"], ["cas.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ca_id", "signing_serial_hex"),
    )
    op.create_table(
        "key_recoveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("ca_id", sa.String(length=64), nullable=False),
        sa.Column("serial_hex", sa.String(length=42), nullable=False),
        sa.Column("escrow_id", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_reference", sa.String(length=200), nullable=False),
        sa.Column("recipient_certificate_der", sa.LargeBinary(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requester_token", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("key_recoveries")
    op.drop_table("certificate_pairs")
    op.drop_table("kmc_escrows")
