"""The hub's queries: narrow, each used by the service inside its own transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from national_hub.models import (
    TRUST_LIST_STATE_ID,
    HubIssuerCode,
    HubLicense,
    HubReceivedEvent,
    HubRegion,
    HubTrustAnchor,
    HubTrustListState,
)
from national_hub.trust_list import to_pem

_PG_REGION_LOCK = 0x4C54_4855_0000_0000  # + the region code: one reporter at a time per region


def lock_region(session: Session, region: str) -> None:
    """Serialise report batches of one region (SQLite's BEGIN IMMEDIATE already serialises all writers)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_REGION_LOCK + int(region)})


def receipts(session: Session, region: str, keys: Iterable[str]) -> dict[str, HubReceivedEvent]:
    rows = session.scalars(
        select(HubReceivedEvent).where(
            HubReceivedEvent.region == region, HubReceivedEvent.idempotency_key.in_(set(keys))
        )
    )
    return {row.idempotency_key: row for row in rows}


def load_licenses(session: Session, identifiers: Iterable[str]) -> dict[str, HubLicense]:
    """Every already-indexed license among ``identifiers``, by identifier (one query per batch)."""
    wanted = sorted({i for i in identifiers if isinstance(i, str)})
    rows: dict[str, HubLicense] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows.update(
            (r.identifier, r)
            for r in session.scalars(select(HubLicense).where(HubLicense.identifier.in_(chunk)))
        )
    return rows


def trust_anchor(session: Session, region: str, kind: str, sha256: str) -> HubTrustAnchor | None:
    return session.scalars(
        select(HubTrustAnchor).where(
            HubTrustAnchor.region == region,
            HubTrustAnchor.kind == kind,
            HubTrustAnchor.sha256 == sha256,
        )
    ).first()


def region_by_token_hash(session: Session, token_hash: str) -> str | None:
    return session.scalar(select(HubRegion.code).where(HubRegion.token_hash == token_hash))


def region_by_certificate(session: Session, sha256: str) -> str | None:
    return session.scalar(select(HubRegion.code).where(HubRegion.client_cert_sha256 == sha256))


def active_ca_anchors(session: Session, region: str) -> list[tuple[str, bytes]]:
    """(kind, DER) of the region's active ``ca-root`` and ``ca-intermediate`` trust anchors."""
    rows = session.execute(
        select(HubTrustAnchor.kind, HubTrustAnchor.certificate_der).where(
            HubTrustAnchor.region == region,
            HubTrustAnchor.kind.in_(("ca-root", "ca-intermediate")),
            HubTrustAnchor.status == "active",
        )
    )
    return [(kind, bytes(der)) for kind, der in rows.tuples()]


def issuer_regions(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """issuer code → the region it is bound to, for the bound ones among ``codes``."""
    wanted = sorted(set(codes))
    rows = session.execute(
        select(HubIssuerCode.issuer_code, HubIssuerCode.region).where(HubIssuerCode.issuer_code.in_(wanted))
    )
    return dict(rows.tuples().all())


def region(session: Session, code: str, *, lock: bool = False) -> HubRegion | None:
    """The registered region ``code`` (locked for update with ``lock``), or None."""
    return session.get(HubRegion, code, with_for_update=lock)


def add_region(session: Session, code: str, name: str, token_hash: str, at: datetime) -> None:
    session.add(HubRegion(code=code, name=name, token_hash=token_hash, created_at=at))


def bind_issuer_code(session: Session, issuer_code: str, region: str, actor: str, at: datetime) -> None:
    """Bind a license issuer code to a region (its unique key refuses a second region at flush)."""
    session.add(HubIssuerCode(issuer_code=issuer_code, region=region, bound_by=actor, bound_at=at))


def trust_list_state(session: Session, *, lock: bool = False) -> HubTrustListState | None:
    """The trust-list state row (locked for update with ``lock``), or None before the first key."""
    return session.get(HubTrustListState, TRUST_LIST_STATE_ID, with_for_update=lock)


def add_trust_list_state(session: Session, key_ref: str, certificate_der: bytes) -> None:
    """The trust-list state of a new signing key: sequence 0, to be signed."""
    session.add(
        HubTrustListState(
            id=TRUST_LIST_STATE_ID, key_ref=key_ref, certificate_der=certificate_der, sequence=0, dirty=True
        )
    )


def mark_trust_list_changed(session: Session) -> None:
    session.execute(
        update(HubTrustListState).where(HubTrustListState.id == TRUST_LIST_STATE_ID).values(dirty=True)
    )


def trust_list_head(session: Session):
    """(dirty, sequence, issued_at, key_ref) of the trust-list state, or None before the first key."""
    return session.execute(
        select(
            HubTrustListState.dirty,
            HubTrustListState.sequence,
            HubTrustListState.issued_at,
            HubTrustListState.key_ref,
        ).where(HubTrustListState.id == TRUST_LIST_STATE_ID)
    ).first()


def trust_list_regions(session: Session) -> list[dict]:
    """Every region with its anchors, in a stable order (the content the trust list signs)."""
    anchors: dict[str, list[dict]] = {}
    for a in session.scalars(
        select(HubTrustAnchor).order_by(HubTrustAnchor.region, HubTrustAnchor.kind, HubTrustAnchor.sha256)
    ):
        anchors.setdefault(a.region, []).append(
            {
                "kind": a.kind,
                "certificate_pem": to_pem(a.certificate_der),
                "sha256": a.sha256,
                "status": a.status,
                "history": json.loads(a.history),
            }
        )
    return [
        {"code": r.code, "name": r.name, "anchors": anchors.get(r.code, [])}
        for r in session.scalars(select(HubRegion).order_by(HubRegion.code))
    ]
