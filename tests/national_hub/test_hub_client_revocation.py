"""The hub checks a region's client certificate against the region's own CA certificates (its trust
anchors) and the region's OCSP responder or CRL, fails closed, and reuses answers at most for the
configured bound."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.hub import build_hub, create_hub_app
from app.settings import Settings
from national_hub.client_check import RegionCertificateCheck
from tests.e2e.processes import free_port
from tests.national_hub.region_pki import RegionCA
from tests.national_hub.test_hub import anchor_event, bearer, results
from tests.national_hub.test_hub_mtls import HEADER, PROXY, hub_service

BJ = "110000"


@pytest.fixture
def region_ca():
    ca = RegionCA()
    yield ca
    ca.close()


def make_hub(tmp_path, database_url, region_ca, max_age_s):
    check = RegionCertificateCheck(max_age_s=max_age_s, per_request_timeout_s=2.0, total_timeout_s=3.0)
    settings, db, service = hub_service(tmp_path, database_url, client_check=check)
    token = service.add_region(BJ, "北京市", "test")
    client = TestClient(create_hub_app(settings, service), raise_server_exceptions=False, client=PROXY)
    assert results(
        client.post(
            "/hub/v1/reports",
            json={"region": BJ, "events": [anchor_event("root", region_ca.pem)]},
            headers=bearer(token),
        )
    ) == ["accepted"]
    return SimpleNamespace(client=client, service=service, db=db)


@pytest.fixture
def hub(tmp_path, database_url, region_ca):
    h = make_hub(tmp_path, database_url, region_ca, max_age_s=60.0)
    with h.client:
        yield h
    h.db.dispose()


def reported(h, pem: str):
    return h.client.post(
        "/hub/v1/reports", json={"region": BJ, "events": []}, headers={HEADER: quote(pem, safe="")}
    )


def refused(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "127.0.0.1" not in response.text and "/ocsp" not in response.text


def test_a_good_certificate_is_accepted_and_a_revoked_one_refused(hub, region_ca, caplog):
    pem, der = region_ca.issue()
    hub.service.bind(BJ, "test", der)
    assert reported(hub, pem).status_code == 200
    assert region_ca.requests["ocsp"] == 1
    other_pem, other_der = region_ca.issue()
    region_ca.revoke(other_der)
    hub.service.bind(BJ, "test", other_der)
    with caplog.at_level(logging.WARNING, logger="longtrust.hub"):
        refused(reported(hub, other_pem))
    assert any("refused" in r.getMessage() and BJ in r.getMessage() for r in caplog.records)


def test_a_certificate_of_another_ca_is_refused_though_registered(hub, region_ca):
    stranger = RegionCA("Another Root CA")
    try:
        pem, der = stranger.issue()
        hub.service.bind(BJ, "test", der)
        refused(reported(hub, pem))
        assert stranger.requests == {"ocsp": 0, "crl": 0}  # nothing fetched for an unchained certificate
    finally:
        stranger.close()


def test_the_crl_answers_when_the_responder_does_not(hub, region_ca):
    region_ca.ocsp_up = False
    revoked_pem, revoked_der = region_ca.issue()
    region_ca.revoke(revoked_der)
    hub.service.bind(BJ, "test", revoked_der)
    refused(reported(hub, revoked_pem))
    assert region_ca.requests["crl"] == 1
    pem, der = region_ca.issue()
    hub.service.bind(BJ, "test", der)
    assert reported(hub, pem).status_code == 200  # not on the CRL, which is reused within its bound
    assert region_ca.requests["crl"] == 1


def test_no_status_obtainable_is_refused(hub, region_ca):
    pem, der = region_ca.issue(base=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    hub.service.bind(BJ, "test", der)
    started = time.monotonic()
    refused(reported(hub, pem))
    assert time.monotonic() - started < 10  # bounded by the check's fetch timeouts


def test_a_certificate_naming_no_status_endpoint_is_refused(hub, region_ca):
    pem, der = region_ca.issue(endpoints=False)
    hub.service.bind(BJ, "test", der)
    refused(reported(hub, pem))


def test_answers_are_reused_within_the_bound_and_not_beyond(tmp_path, database_url, region_ca):
    h = make_hub(tmp_path, database_url, region_ca, max_age_s=1.0)
    try:
        with h.client:
            pem, der = region_ca.issue()
            h.service.bind(BJ, "test", der)
            assert reported(h, pem).status_code == 200
            assert reported(h, pem).status_code == 200
            assert region_ca.requests["ocsp"] == 1  # the second check reused the answer
            region_ca.revoke(der)
            revoked_at = time.monotonic()
            while reported(h, pem).status_code == 200:
                assert time.monotonic() - revoked_at < 1.0 + 3.0, (
                    "the revocation was not seen within the bound"
                )
            refused(reported(h, pem))
            assert region_ca.requests["ocsp"] >= 2
    finally:
        h.db.dispose()


def test_a_longer_bound_reuses_the_good_answer(hub, region_ca):
    pem, der = region_ca.issue()
    hub.service.bind(BJ, "test", der)
    assert reported(hub, pem).status_code == 200
    region_ca.revoke(der)
    assert reported(hub, pem).status_code == 200  # within the 60 s bound the good answer stands
    assert region_ca.requests["ocsp"] == 1


def test_the_hub_setting_bounds_the_cache(tmp_path):
    settings = Settings(data_dir=tmp_path, hub_client_revocation_max_age_s=5)
    assert "LONGTRUST_HUB_CLIENT_REVOCATION_MAX_AGE_S" in settings.known_names
    hub = build_hub(settings)
    try:
        assert hub.client_check.max_age_s == 5
    finally:
        hub.db.dispose()
