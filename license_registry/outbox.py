"""The transactional outbox: events for the national hub, added in the caller's transaction.

Idempotency keys are derived from what happened (``<region>:<kind>:<subject>[:<status>]``), so the
same fact is never queued twice and a re-delivery is recognised by the hub as a duplicate.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import pem
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.audit import record
from db.base import Database
from license_registry.models import License, LicenseType, OutboxEvent

KINDS = ("catalog", "license", "status", "trust-anchor")
ANCHOR_KINDS = ("ca-root", "ca-intermediate", "seal-maker")


def enqueue(session: Session, key: str, kind: str, payload: dict, at: datetime) -> OutboxEvent:
    if kind not in KINDS:
        raise ValueError(f"unknown hub event kind {kind!r}")
    event = OutboxEvent(
        idempotency_key=key,
        kind=kind,
        payload_json=json.dumps(payload, ensure_ascii=False),
        created_at=at,
        attempts=0,
        next_attempt_at=at,
    )
    session.add(event)
    return event


def catalog_event(session: Session, region: str, t: LicenseType) -> OutboxEvent:
    payload = {
        "type_code": t.type_code,
        "name": t.name,
        "defining_body_code": t.defining_body_code,
        "holder_kind": t.holder_kind,
    }
    return enqueue(session, f"{region}:catalog:{t.type_code}", "catalog", payload, t.created_at)


def license_event(session: Session, lic: License) -> OutboxEvent:
    payload = {
        "identifier": lic.identifier,
        "type_code": lic.type_code,
        "issuer_code": lic.issuer_code,
        "holder_hash": lic.holder_hash,
        "region": lic.region,
        "status": lic.status,
        "version": f"{lic.version:03d}",
    }
    return enqueue(session, f"{lic.region}:license:{lic.identifier}", "license", payload, lic.created_at)


def status_event(
    session: Session, lic: License, at: datetime, superseded_by: str | None = None
) -> OutboxEvent:
    payload = {"identifier": lic.identifier, "status": lic.status, "version": f"{lic.version:03d}"}
    if lic.reason:
        payload["reason"] = lic.reason
    if superseded_by:
        payload["superseded_by"] = superseded_by
    return enqueue(session, f"{lic.region}:status:{lic.identifier}:{lic.status}", "status", payload, at)


@dataclass(frozen=True)
class TrustAnchor:
    kind: str  # ca-root | ca-intermediate | seal-maker
    certificate_der: bytes
    status: str = "active"  # as the region sees it: active, revoked, ...

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.certificate_der).hexdigest()


def report_trust_anchors(
    db: Database, region: str, anchors: Iterable[TrustAnchor], actor: str, at: datetime
) -> int:
    """Queue an event for each anchor whose (certificate, status) was never reported; returns how many."""
    anchors = list(anchors)
    for anchor in anchors:
        if anchor.kind not in ANCHOR_KINDS:
            raise ValueError(f"trust anchor kind must be one of {ANCHOR_KINDS}, not {anchor.kind!r}")
    keys = {f"{region}:trust-anchor:{a.kind}:{a.fingerprint}:{a.status}": a for a in anchors}
    if not keys:
        return 0
    try:
        with db.unit_of_work() as s:
            known = set(
                s.scalars(
                    select(OutboxEvent.idempotency_key).where(OutboxEvent.idempotency_key.in_(list(keys)))
                )
            )
            fresh = {k: a for k, a in keys.items() if k not in known}
            for key, anchor in fresh.items():
                payload = {
                    "kind": anchor.kind,
                    "status": anchor.status,
                    "certificate_pem": pem.armor("CERTIFICATE", anchor.certificate_der).decode(),
                }
                enqueue(s, key, "trust-anchor", payload, at)
                record(
                    s,
                    actor,
                    "hub.trust-anchor.report",
                    anchor.fingerprint,
                    kind=anchor.kind,
                    status=anchor.status,
                )
    except IntegrityError:
        return 0  # another worker queued the same anchors at the same moment
    return len(fresh)
