"""The audit log with its proof check, and the hub outbox and status."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.console.ca_pages import PAGE_SIZE, filters
from app.console.web import Console
from app.problems import STATUS
from core.errors import DomainError
from db.audit_listing import list_events
from db.merkle import verify_inclusion
from national_hub.witness import parse_checkpoint


def proof_check(audit, index: int) -> dict:
    """Check that leaf ``index`` is in the newest signed checkpoint: the checkpoint's signature, and
    the RFC 9162 inclusion proof recomputed against its root. ``{index, tree_size, root_hash_hex,
    leaf_hash_hex, audit_path_hex, event, signed, included}``; raises not_found before the first
    checkpoint and invalid when the leaf is not yet covered by it."""
    checkpoint = audit.checkpoint()
    try:
        parse_checkpoint(checkpoint)
        signed = True
    except DomainError:
        signed = False
    leaf = audit.leaf(index)
    proof = audit.inclusion(index, checkpoint["tree_size"])
    included = verify_inclusion(
        index,
        checkpoint["tree_size"],
        bytes.fromhex(leaf["leaf_hash_hex"]),
        [bytes.fromhex(p) for p in proof["audit_path_hex"]],
        bytes.fromhex(checkpoint["root_hash_hex"]),
    )
    return {
        "index": index,
        "tree_size": checkpoint["tree_size"],
        "root_hash_hex": checkpoint["root_hash_hex"],
        "timestamp": checkpoint["timestamp"],
        "leaf_hash_hex": leaf["leaf_hash_hex"],
        "audit_path_hex": proof["audit_path_hex"],
        "event": leaf["event"],
        "signed": signed,
        "included": included,
    }


def add_routes(router: APIRouter, console: Console, services) -> None:
    audit, db, registry, settings = services.audit, services.db, services.registry, services.settings

    @router.get("/console/audit")
    def events(request: Request):
        page = console.page(request)
        page.require("audit.read")
        chosen = filters(request, "actor", "action", "subject")
        items, next_cursor = list_events(db, PAGE_SIZE, request.query_params.get("cursor") or None, **chosen)
        return console.render(page, "audit.html", items=items, next_cursor=next_cursor, chosen=chosen)

    @router.get("/console/audit/proof/{index}")
    def proof(request: Request, index: int):
        page = console.page(request)
        page.require("audit.read")
        try:
            result, problem = proof_check(audit, index), None
        except DomainError as exc:  # not yet sequenced or signed: say so on the page
            result, problem = None, (STATUS[exc.kind], exc.detail)
        return console.render(
            page,
            "proof.html",
            status_code=problem[0] if problem else 200,
            result=result,
            index=index,
            problem=problem[1] if problem else None,
        )

    @router.get("/console/hub")
    def hub(request: Request):
        page = console.page(request)
        page.require("license.read")
        return console.render(
            page,
            "hub.html",
            backlog=registry.outbox_backlog(),
            hub_url=settings.hub_url,
            region=settings.region,
        )
