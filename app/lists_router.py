"""Lists that belong to no single room: keys (metadata only) and the audit log with its export."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from db.audit_listing import export_events, list_events
from db.base import Database
from keys.listing import list_keys

JSONL = "application/jsonl"
NEXT_CURSOR = "pass as `cursor` for the next page; null on the last page"


class KeyItem(BaseModel):
    key_ref: str
    label: str
    algorithm: str
    backend: str
    status: str
    created_at: datetime
    disabled_at: datetime | None


class KeyList(BaseModel):
    items: list[KeyItem]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


class AuditEventItem(BaseModel):
    id: int
    leaf_index: int | None  # 0-based position in the Merkle log; None until sequenced
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict


class AuditEventList(BaseModel):
    items: list[AuditEventItem]
    next_cursor: str | None = Field(description=NEXT_CURSOR)


def build_router(db: Database, require) -> APIRouter:
    """``GET /api/v1/keys`` (key.read) and ``GET /api/v1/audit/events`` (audit.read)."""
    router = APIRouter()

    @router.get("/api/v1/keys", response_model=KeyList, tags=["admin"])
    def keys(
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=500),
        algorithm: str | None = Query(None, max_length=40),
        status: str | None = Query(None, max_length=20),
        backend: str | None = Query(None, max_length=20),
        _=require("key.read"),
    ):
        items, next_cursor = list_keys(db, limit, cursor, algorithm=algorithm, status=status, backend=backend)
        return {"items": items, "next_cursor": next_cursor}

    @router.get(
        "/api/v1/audit/events",
        response_model=AuditEventList,
        responses={200: {"content": {JSONL: {"schema": {"type": "string"}}}}},
        tags=["audit"],
    )
    def audit_events(
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, max_length=500),
        actor: str | None = Query(None, max_length=200),
        action: str | None = Query(None, max_length=100),
        subject: str | None = Query(None, max_length=300),
        since: datetime | None = None,
        until: datetime | None = None,
        format: Literal["json", "jsonl"] = "json",
        _=require("audit.read"),
    ):
        filters = {"actor": actor, "action": action, "subject": subject, "since": since, "until": until}
        if format == "jsonl":
            return StreamingResponse(
                export_events(db, **filters),
                media_type=JSONL,
                headers={"Content-Disposition": 'attachment; filename="audit-events.jsonl"'},
            )
        items, next_cursor = list_events(db, limit, cursor, **filters)
        return {"items": items, "next_cursor": next_cursor}

    return router
