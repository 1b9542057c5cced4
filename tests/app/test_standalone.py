"""Standalone verification material from the hub's signed trust list (signature and pin checked)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.standalone import anchors_of, material_from
from core.errors import DomainError
from keys.signer import SM2Signer
from keys.sm2 import SM2PrivateKey
from national_hub.trust_list import hub_certificate, sign_trust_list, to_pem


def _signed(regions: list[dict]):
    now = datetime.now(UTC)
    signer = SM2Signer("hub", SM2PrivateKey.generate())
    cert = hub_certificate(signer, now - timedelta(minutes=1))
    payload = {
        "version": 1,
        "sequence": 1,
        "issued_at": now.isoformat(),
        "next_update": (now + timedelta(hours=1)).isoformat(),
        "regions": regions,
    }
    return sign_trust_list(payload, signer, cert), to_pem(cert)


def _anchor(kind: str, status: str = "active") -> dict:
    cert = hub_certificate(SM2Signer(kind, SM2PrivateKey.generate()), datetime.now(UTC))
    return {"kind": kind, "status": status, "certificate_pem": to_pem(cert)}


def test_hub_list_gives_active_roots_and_intermediates_of_every_region():
    root, sub, revoked, maker = (
        _anchor("ca-root"),
        _anchor("ca-intermediate"),
        _anchor("ca-root", "revoked"),
        _anchor("seal-maker"),
    )
    document, pinned = _signed(
        [{"code": "110000", "anchors": [root, revoked]}, {"code": "230000", "anchors": [sub, maker]}]
    )
    material = material_from(anchors_of(document, pinned))
    assert len(material.anchors) == 1 and len(material.intermediates) == 1


def test_a_tampered_or_unpinned_hub_list_is_refused():
    document, pinned = _signed([{"code": "110000", "anchors": [_anchor("ca-root")]}])
    _, other = _signed([])
    with pytest.raises(DomainError, match="other than the hub"):
        anchors_of(document, other)
    document["payload_b64"] = document["payload_b64"][:-8] + "AAAAAAA="
    with pytest.raises(DomainError):
        anchors_of(document, pinned)


def test_a_list_without_roots_or_of_the_wrong_shape_is_refused():
    with pytest.raises(DomainError, match="no active CA root"):
        material_from([_anchor("ca-intermediate")])
    with pytest.raises(DomainError, match="not a trust list"):
        anchors_of({"something": "else"}, None)
