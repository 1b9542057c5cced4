"""The audit log over HTTP: signed checkpoints, leaves and RFC 9162 proofs (role audit.read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from app.checkpoints import AuditLog

MAX_INDEX = 2**62  # far past any log; keeps numbers inside BIGINT
Index = Annotated[int, Query(ge=0, le=MAX_INDEX, description="0-based leaf index")]
Size = Annotated[int | None, Query(ge=1, le=MAX_INDEX, description="tree size; the current tree if absent")]


class CheckpointOut(BaseModel):
    tree_size: int
    root_hash_hex: str
    timestamp: str
    algorithm: str
    signature_b64: str
    certificate_pem: str


class LeafOut(BaseModel):
    index: int
    leaf_hash_hex: str
    event: dict


class InclusionOut(BaseModel):
    index: int
    tree_size: int
    audit_path_hex: list[str]


class ConsistencyOut(BaseModel):
    first: int
    second: int
    proof_hex: list[str]


def build_router(audit: AuditLog, require) -> APIRouter:
    router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

    @router.get("/checkpoint", response_model=CheckpointOut)
    def checkpoint(_principal=require("audit.read")):
        """The newest signed checkpoint (tree head) of the audit log."""
        return audit.checkpoint()

    @router.get("/leaves/{index}", response_model=LeafOut)
    def leaf(index: Annotated[int, Path(ge=0, le=MAX_INDEX)], _principal=require("audit.read")):
        """A leaf: its event and leaf hash = SHA-256(0x00 ‖ the event's canonical bytes)."""
        return audit.leaf(index)

    @router.get("/proofs/inclusion", response_model=InclusionOut)
    def inclusion(index: Index, tree_size: Size = None, _principal=require("audit.read")):
        """RFC 9162 §2.1.3 inclusion proof (audit path, leaf side first)."""
        return audit.inclusion(index, tree_size)

    @router.get("/proofs/consistency", response_model=ConsistencyOut)
    def consistency(
        first: Annotated[int, Query(ge=1, le=MAX_INDEX)],
        second: Size = None,
        _principal=require("audit.read"),
    ):
        """RFC 9162 §2.1.4 consistency proof between two tree sizes."""
        return audit.consistency(first, second)

    return router
