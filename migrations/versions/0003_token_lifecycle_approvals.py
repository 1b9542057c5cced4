"""token lifecycle (operator, expiry, last use) and one approval table for every dual-controlled operation

Revision ID: 0003
Revises: 0002
"""

import json
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import db.base

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("operator", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("expires_at", db.base.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_used_at", db.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE api_tokens SET operator = name")  # without an operator, the name is the operator
    with op.batch_alter_table("api_tokens") as batch:
        batch.create_index("ix_api_tokens_operator", ["operator"], unique=False)

    approvals = op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.String(length=60), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requester_operator", sa.String(length=200), nullable=False),
        sa.Column("requester_token", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decider_operator", sa.String(length=200), nullable=True),
        sa.Column("decided_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_requests_operation", "approval_requests", ["operation"])
    op.create_index("ix_approval_requests_status", "approval_requests", ["status"])
    op.bulk_insert(approvals, [_approval(row) for row in _ca_requests()])
    op.drop_table("ca_requests")


def _ca_requests() -> list:
    table = sa.table(
        "ca_requests",
        *(sa.column(c) for c in ("id", "spec", "requested_by", "requester_token", "status", "decided_by")),
        sa.column("created_at", db.base.UTCDateTime(timezone=True)),
        sa.column("decided_at", db.base.UTCDateTime(timezone=True)),
    )
    return list(op.get_bind().execute(sa.select(table)))


def _approval(row) -> dict:
    """A CA request as an approval request; its operator is the name in its actor (role:name)."""
    spec = json.loads(row.spec)
    revoke = "revoke" in spec
    return {
        "id": row.id,
        "operation": "ca.revoke" if revoke else "ca.create",
        "action": "ca.manage",
        "payload": json.dumps({"ca_id": spec["revoke"], "reason": spec["reason"]} if revoke else spec),
        "requested_by": row.requested_by,
        "requester_operator": row.requested_by.partition(":")[2] or row.requested_by,
        "requester_token": row.requester_token,
        "status": row.status,
        "created_at": row.created_at,
        "expires_at": row.created_at + timedelta(days=1),
        "decided_by": row.decided_by,
        "decider_operator": (row.decided_by or "").rpartition(":")[2] or None,
        "decided_at": row.decided_at,
        "outcome": None,
    }


def downgrade() -> None:
    op.create_table(
        "ca_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requester_token", sa.String(length=40), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.drop_table("approval_requests")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_operator")
        batch.drop_column("last_used_at")
        batch.drop_column("expires_at")
        batch.drop_column("operator")
