"""Administration over HTTP: API tokens (create, list, revoke, seal grants) and the approvals of
operations under dual control (with the historical /api/v1/ca-requests alias)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.approvals import ApprovalService, Execute, Outcome, respond
from app.cert_credentials import from_pem
from app.tokens import TokenService, TokenView, check_role
from ca.schemas import CaRequestOut
from core.errors import ErrorCode, invalid, not_found
from policies.access import access_policy

MAX_TTL_S = 10 * 366 * 86400
PENDING = {202: {"description": "under dual control: `{request_id, status: pending, …}`"}}


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    operator: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="person or system answerable for the token; default: name",
    )
    seals: list[str] = Field(default_factory=list, max_length=1000)
    expires_in_s: int | None = Field(default=None, ge=1, le=MAX_TTL_S)
    client_certificate_pem: str | None = Field(
        default=None,
        max_length=16 * 1024,
        description="a PEM client certificate issued by this deployment's CA (extendedKeyUsage clientAuth, "
        "e.g. profile tls-client) that authenticates as this token over mTLS",
    )


class TokenOut(BaseModel):
    token_id: str
    name: str
    role: str
    operator: str
    seals: list[str]
    status: Literal["active", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    client_cert_sha256: str | None = None


class TokenCreated(TokenOut):
    token: str


class TokenPage(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seal_id: str = Field(min_length=1, max_length=40)


class ApprovalOut(BaseModel):
    request_id: str
    operation: str
    status: str
    requested_by: str
    requester_operator: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decider_operator: str | None
    decided_at: datetime | None
    outcome: str | None
    summary: dict


class ApprovalPage(BaseModel):
    items: list[ApprovalOut]
    next_cursor: str | None


def _token_out(v: TokenView) -> dict:
    return TokenOut(**v.__dict__).model_dump(mode="json")


def _certificate(text: str | None) -> bytes | None:
    if text is None:
        return None
    der = from_pem(text)
    if der is None:
        raise invalid("client_certificate_pem is not a PEM certificate", ErrorCode.CLIENT_CERTIFICATE)
    return der


def operations(tokens: TokenService) -> list[tuple[str, str, Execute]]:
    """Token operations for app/approvals.py: (operation, action its approver must hold, execute)."""

    def create(payload: dict, actor: str) -> Outcome:
        with tokens.db.unit_of_work() as s:
            issued = tokens.issue(
                s,
                payload["role"],
                payload["name"],
                actor,
                payload["seals"],
                payload["operator"],
                payload["expires_in_s"],
                _certificate(payload.get("client_certificate_pem")),
            )
        return Outcome(201, {**_token_out(issued.view), "token": issued.token})

    return [("token.create", "token.manage", create), ("token.create-admin", "token.manage", create)]


def build_router(tokens: TokenService, approvals: ApprovalService, require) -> APIRouter:
    """Token and approval routes; ``approvals`` runs the operations under dual control."""
    router = APIRouter(tags=["admin"])

    @router.post("/api/v1/tokens", status_code=201, response_model=TokenCreated, responses=PENDING)
    def create_token(body: TokenIn, principal=require("token.manage")):
        """A new token (its secret is shown only here); tokens of admin roles need a second operator."""
        check_role(body.role)
        operation = "token.create-admin" if body.role in access_policy().admin_roles else "token.create"
        return approvals.answer(operation, body.model_dump(), principal)

    @router.get("/api/v1/tokens", response_model=TokenPage)
    def list_tokens(
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=40),
        role: str | None = Query(None, max_length=40),
        operator: str | None = Query(None, max_length=200),
        status: Literal["active", "revoked", "expired"] | None = None,
        _=require("token.read"),
    ):
        items, next_cursor = tokens.list(limit, cursor, role, operator, status)
        return {"items": [_token_out(v) for v in items], "next_cursor": next_cursor}

    @router.post("/api/v1/tokens/{token_id}/revoke", response_model=TokenOut)
    def revoke_token(token_id: str, principal=require("token.manage")):
        """Revoke a token: every process refuses it from its next request on."""
        with tokens.db.unit_of_work() as s:
            return _token_out(tokens.revoke(s, token_id, principal.actor))

    @router.post("/api/v1/tokens/{token_id}/seals", status_code=204)
    def grant_seal(token_id: str, body: GrantIn, principal=require("token.manage")):
        with tokens.db.unit_of_work() as s:
            tokens.grant_seal(s, token_id, body.seal_id, principal.actor)

    @router.get("/api/v1/approvals", response_model=ApprovalPage, tags=["approvals"])
    def list_approvals(
        limit: int = Query(100, ge=1, le=1000),
        cursor: str | None = Query(None, max_length=40),
        status: Literal["pending", "approved", "rejected", "failed", "expired", "all"] = "pending",
        operation: str | None = Query(None, max_length=60),
        _=require("approval.read"),
    ):
        items, next_cursor = approvals.list(limit, cursor, status, operation)
        return {"items": items, "next_cursor": next_cursor}

    @router.get("/api/v1/approvals/{request_id}", response_model=ApprovalOut, tags=["approvals"])
    def get_approval(request_id: str, _=require("approval.read")):
        return approvals.get(request_id)

    @router.post(
        "/api/v1/approvals/{request_id}/approve",
        tags=["approvals"],
        responses={200: {"description": "what the operation answers (200 or 201 and its body)"}, 201: {}},
    )
    def approve(request_id: str, principal=require("approval.decide")):
        """Approve as a different operator: answers what the direct call would have answered."""
        return respond(approvals.decide(request_id, True, principal)[0])

    @router.post("/api/v1/approvals/{request_id}/reject", response_model=ApprovalOut, tags=["approvals"])
    def reject(request_id: str, principal=require("approval.decide")):
        return approvals.decide(request_id, False, principal)[1]

    @router.post("/api/v1/ca-requests/{request_id}/{decision}", response_model=CaRequestOut, tags=["ca"])
    def decide_ca_request(
        request_id: str, decision: Literal["approve", "reject"], principal=require("ca.manage")
    ):
        """Alias of /api/v1/approvals/{request_id}/approve|reject for CA requests, answering the request."""
        if not approvals.get(request_id)["operation"].startswith("ca."):
            raise not_found(f"no CA request {request_id}")
        req = approvals.decide(request_id, decision == "approve", principal)[1]
        return CaRequestOut(
            request_id=req["request_id"],
            status=req["status"],
            requested_by=req["requested_by"],
            decided_by=req["decided_by"],
        )

    return router
