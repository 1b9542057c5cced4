"""Dual control: one approval mechanism for every operation that policies/access.yaml lists under
``dual_control``.

A caller asking for such an operation gets 202 ``{request_id}``; a *different operator* (not merely a
different token) whose role may perform the operation approves or rejects it, and the approval answers
exactly what the direct call would have answered. Requests expire (default 24 h). Every step is an
audit event in the step's own transaction.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from app.tokens import Principal
from core.errors import DomainError, ErrorCode, ErrorKind, conflict, forbidden, invalid, not_found
from db.audit import record
from db.base import Base, Database, UTCDateTime, utcnow
from policies.access import access_policy

DEFAULT_TTL_S = 24 * 3600.0
STATUSES = ("pending", "approved", "rejected", "failed", "expired")
SUMMARY_MAX = 200  # payload strings longer than this are listed by length only


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    operation: Mapped[str] = mapped_column(String(60), index=True)
    action: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200))
    requester_operator: Mapped[str] = mapped_column(String(200))
    requester_token: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending | approved | rejected | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decider_operator: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)


class Outcome(NamedTuple):
    """An HTTP answer: status code and body (anything FastAPI's jsonable_encoder takes)."""

    status: int
    body: Any


# execute(payload, actor) -> (status, body): performs the operation as the direct call would answer
Execute = Callable[[dict, str], tuple[int, Any]]


@dataclass(frozen=True)
class Operation:
    name: str  # e.g. seal.create
    action: str  # the access action an approver's role must allow, e.g. seal.manage
    execute: Execute


def _summary(payload: dict) -> dict:
    return {
        k: (f"<{len(v)} characters>" if isinstance(v, str) and len(v) > SUMMARY_MAX else v)
        for k, v in payload.items()
    }


def view(req: ApprovalRequest, now: datetime | None = None) -> dict:
    """A request as the API shows it (the payload summarised)."""
    status = req.status
    if status == "pending" and req.expires_at <= (now or utcnow()):
        status = "expired"
    return {
        "request_id": req.id,
        "operation": req.operation,
        "status": status,
        "requested_by": req.requested_by,
        "requester_operator": req.requester_operator,
        "created_at": req.created_at.isoformat(),
        "expires_at": req.expires_at.isoformat(),
        "decided_by": req.decided_by,
        "decider_operator": req.decider_operator,
        "decided_at": req.decided_at.isoformat() if req.decided_at else None,
        "outcome": req.outcome,
        "summary": _summary(json.loads(req.payload)),
    }


class ApprovalService:
    """Registers executable operations and runs them directly or after a second operator's approval."""

    def __init__(self, db: Database, ttl_s: float = DEFAULT_TTL_S):
        self.db = db
        self.ttl_s = ttl_s
        self._operations: dict[str, Operation] = {}

    def register(self, operation: str, action: str, execute: Execute) -> None:
        """Make ``operation`` executable; ``action`` (access.yaml) is what its approver must hold."""
        access_policy().allows("security-admin", action)  # unknown actions fail at start-up
        self._operations[operation] = Operation(operation, action, execute)

    def submit(self, operation: str, payload: dict, principal: Principal) -> Outcome:
        """Run ``operation`` now, or, under dual control, record it and answer 202 ``{request_id}``.
        ``payload`` must be JSON-serialisable and already checked (bad input is refused up front)."""
        op = self._operations[operation]
        if not access_policy().needs_second_operator(operation):
            return Outcome(*op.execute(payload, principal.actor))
        now = utcnow()
        req = ApprovalRequest(
            id=f"apr-{time.time_ns() // 1_000_000:012x}{secrets.token_hex(4)}",
            operation=operation,
            action=op.action,
            payload=json.dumps(payload, ensure_ascii=False),
            requested_by=principal.actor,
            requester_operator=principal.operator,
            requester_token=principal.token_id,
            status="pending",
            created_at=now,
            expires_at=now + timedelta(seconds=self.ttl_s),
        )
        with self.db.unit_of_work() as s:
            s.add(req)
            record(
                s,
                principal.actor,
                "approval.request",
                req.id,
                operation=operation,
                operator=principal.operator,
                summary=_summary(payload),
            )
        return Outcome(202, view(req, now))

    def answer(self, operation: str, payload: dict, principal: Principal) -> JSONResponse:
        """:meth:`submit` as an HTTP response (for routers: 202 under dual control, else the result)."""
        return respond(self.submit(operation, payload, principal))

    def decide(self, request_id: str, approve: bool, principal: Principal) -> tuple[Outcome, dict]:
        """Approve (then execute) or reject a pending request; returns (the answer, the request view).

        The answer to an approval is the operation's own; to a rejection, the request. Raises
        not_found, forbidden (same operator, or a role that may not perform the operation), conflict
        (already decided) or gone (expired); an operation that fails marks the request failed."""
        with self.db.unit_of_work() as s:
            req = s.get(ApprovalRequest, request_id, with_for_update=True)
            self._check_decidable(req, request_id, principal)
            req.status = "approved" if approve else "rejected"
            req.decided_by, req.decider_operator, req.decided_at = (
                principal.actor,
                principal.operator,
                utcnow(),
            )
            record(
                s,
                principal.actor,
                f"approval.{'approve' if approve else 'reject'}",
                request_id,
                operation=req.operation,
                operator=principal.operator,
                requester_operator=req.requester_operator,
            )
        if not approve:
            return Outcome(200, view(req)), view(req)
        try:
            outcome = Outcome(
                *self._operations[req.operation].execute(
                    json.loads(req.payload), f"{req.requested_by}+{principal.actor}"
                )
            )
        except DomainError as exc:
            self._fail(request_id, principal.actor, exc.detail)
            raise
        return outcome, view(req)

    def _check_decidable(self, req: ApprovalRequest | None, request_id: str, principal: Principal) -> None:
        if req is None:
            raise not_found(f"no approval request {request_id}")
        if req.status != "pending":
            raise conflict(f"request {request_id} is already {req.status}", ErrorCode.DECIDED)
        if req.expires_at <= utcnow():
            raise DomainError(
                ErrorKind.GONE,
                f"request {request_id} expired at {req.expires_at.isoformat()}",
                code=ErrorCode.REQUEST_EXPIRED,
            )
        if principal.operator == req.requester_operator:
            raise forbidden(
                f"dual control: a different operator must decide this request (operator "
                f"{principal.operator!r} made it, whichever token is used)"
            )
        if not access_policy().allows(principal.role, req.action):
            raise forbidden(
                f"role {principal.role} may not {req.action}, so it may not approve {req.operation}"
            )
        if req.operation not in self._operations:
            raise conflict(f"this deployment cannot perform {req.operation}", ErrorCode.UNKNOWN_OPERATION)

    def _fail(self, request_id: str, actor: str, detail: str) -> None:
        with self.db.unit_of_work() as s:
            req = s.get(ApprovalRequest, request_id)
            req.status, req.outcome = "failed", detail[:1000]
            record(s, actor, "approval.failed", request_id, operation=req.operation, detail=detail[:1000])

    def get(self, request_id: str) -> dict:
        """One request's view; not_found if there is none."""
        with self.db.read() as s:
            req = s.get(ApprovalRequest, request_id)
        if req is None:
            raise not_found(f"no approval request {request_id}")
        return view(req)

    def list(
        self,
        limit: int = 100,
        cursor: str | None = None,
        status: str = "pending",
        operation: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """Requests in creation order after ``cursor``; ``status`` one of STATUSES or ``all``."""
        now = utcnow()
        query = select(ApprovalRequest).order_by(ApprovalRequest.id).limit(limit + 1)
        if cursor:
            query = query.where(ApprovalRequest.id > cursor)
        if operation:
            query = query.where(ApprovalRequest.operation == operation)
        query = query.where(*_status_filter(status, now))
        with self.db.read() as s:
            rows = list(s.scalars(query))
        page = [view(r, now) for r in rows[:limit]]
        return page, (page[-1]["request_id"] if len(rows) > limit else None)


def _status_filter(status: str, now: datetime) -> list:
    if status == "all":
        return []
    if status == "pending":
        return [ApprovalRequest.status == "pending", ApprovalRequest.expires_at > now]
    if status == "expired":
        return [ApprovalRequest.status == "pending", ApprovalRequest.expires_at <= now]
    if status in STATUSES:
        return [ApprovalRequest.status == status]
    raise invalid(f"status must be one of {', '.join(STATUSES)} or all", ErrorCode.STATUS)


def respond(outcome: Outcome) -> JSONResponse:
    """The HTTP response for an outcome."""
    return JSONResponse(jsonable_encoder(outcome.body), status_code=outcome.status)
