"""KMC escrow key: each escrow row records the key that sealed it; recoveries are approval requests

Revision ID: 0012_kmc_key
Revises: 0009

Rows made before have no escrow key recorded: they stay sealed under the key-encryption key and keep
opening with it (``longtrust keys rewrap`` moves them under the escrow key). Key recoveries are decided
through the approvals (approval_requests, operation key.recovery), so key_recoveries goes; the upgrade
refuses while a recovery there is still pending.
"""

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0012_kmc_key"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("kmc_escrows") as batch:
        batch.add_column(sa.Column("escrow_key_ref", sa.String(length=100), nullable=True))
    pending = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM key_recoveries WHERE status = 'pending'"))
        .scalar()
    )
    if pending:
        raise RuntimeError(
            f"{pending} key recovery request(s) are pending: decide or reject them with the previous "
            "version, then upgrade"
        )
    op.drop_table("key_recoveries")


def downgrade() -> None:
    bind = op.get_bind()
    sealed = bind.execute(sa.text("SELECT count(*) FROM kmc_escrows WHERE escrow_key_ref IS NOT NULL"))
    if sealed.scalar():
        raise RuntimeError("escrowed keys are sealed under the KMC escrow key: restore a backup instead")
    with op.batch_alter_table("kmc_escrows") as batch:
        batch.drop_column("escrow_key_ref")
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
