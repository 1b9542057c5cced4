"""Anonymous verification is rate limited per client; OCSP, CRLs, CA certificates and TSA never are."""

from __future__ import annotations

import pytest

from tests.app.test_api_errors import _is_problem


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"rate_limit_verify": "3/minute"})


def test_verification_is_limited_and_ca_services_are_not(client):
    certificate = {"certificate_pem": client.get("/ca-certs/sm2-root.pem").text}
    for _ in range(3):
        assert client.post("/api/v1/verify/certificate", json=certificate).status_code == 200
    limited = client.post("/api/v1/verify/certificate", json=certificate)
    assert "verification requests" in _is_problem(limited, 429)["detail"]
    assert 0 < int(limited.headers["retry-after"]) <= 60
    for _ in range(5):
        assert client.get("/ca-certs/sm2-root.pem").status_code == 200
        assert client.get("/crl/sm2-root.crl").status_code == 200
        ocsp = client.post("/ocsp", content=b"\x30\x00", headers={"Content-Type": "application/ocsp-request"})
        assert ocsp.status_code == 200  # malformedRequest answered, never 429
        tsa = client.post(
            "/tsa", content=b"\x30\x00", headers={"Content-Type": "application/timestamp-query"}
        )
        assert tsa.status_code != 429


def test_limits_are_checked_at_start_up(settings):
    from app.container import StartupError, build_services

    with pytest.raises(StartupError, match="LONGTRUST_RATE_LIMIT_VERIFY"):
        build_services(settings.model_copy(update={"rate_limit_verify": "lots"}))
    with pytest.raises(StartupError, match="LONGTRUST_RATE_LIMIT_STORAGE"):
        build_services(settings.model_copy(update={"rate_limit_storage": "carrier-pigeon://coop"}))


def test_an_unreachable_shared_store_leaves_requests_unlimited(settings, services, caplog):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from app.rate_limits import RateLimits

    pytest.importorskip("redis", reason="the redis client is not installed (pip install '.[redis]')")
    unreachable = settings.model_copy(
        update={"rate_limit_storage": "redis://127.0.0.1:1", "rate_limit_auth_failures": "1/minute"}
    )
    services.limits = RateLimits(unreachable)
    with TestClient(create_app(unreachable, services), raise_server_exceptions=False) as client:
        certificate = {"certificate_pem": client.get("/ca-certs/sm2-root.pem").text}
        for _ in range(4):
            assert client.post("/api/v1/verify/certificate", json=certificate).status_code == 200
            _is_problem(client.get("/api/v1/cas", headers={"Authorization": "Bearer lt_wrong"}), 401)
    assert "rate-limit store unreachable" in caplog.text
