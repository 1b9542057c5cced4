"""KMC escrow key: each escrow row records the key that sealed it; recoveries are approval requests

Revision ID: 0010_kmc_key
Revises: 0009

Rows made before have no escrow key recorded: they stay sealed under the key-encryption key and keep
opening with it (``longtrust keys rewrap`` moves them under the escrow key). Key recoveries are decided
through the approvals (approval_requests, operation key.recovery), so key_recoveries goes; the upgrade
refuses while a recovery there is still pending.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_kmc_key"
down_revision = "0009"


def upgrade() -> None:
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
    with op.batch_alter_table("kmc_escrows") as batch:
        batch.add_column(sa.Column("escrow_key_ref", sa.String(length=100), nullable=True))
    op.drop_table("key_recoveries")


def downgrade() -> None:
    raise RuntimeError(
        "escrowed keys may be sealed under the KMC escrow key and recoveries live among the approvals: "
        "restore a backup"
    )
