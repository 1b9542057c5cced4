"""A region at the hub with a client certificate, over real TLS: the region's relay authenticates with
the certificate its own CA issued (no hub token), and another region reporting a license of this
region's issuer is refused with 403. Once the region's CA revokes that certificate, the hub (asking
the region's OCSP responder) refuses it within LONGTRUST_HUB_CLIENT_REVOCATION_MAX_AGE_S; the relay
keeps its events until a new certificate is bound with `hub region bind`."""

from __future__ import annotations

import json
import ssl
import time

import httpx
import pytest

from tests.e2e.processes import Process, cli, databases, environment, free_port, wait_for
from tests.e2e.test_mtls import ca_bundle, issue_client_certificate, serial_of, server_certificate, tls_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REGION_A, REGION_B = "110000", "310000"
ISSUER_A = "11110000000000000X"
TYPE_CODE = "11100000000013338W032"
MAX_AGE_S = 2.0  # the hub reuses a region certificate's OCSP answer at most this long


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request):
    with databases(request.param, 2) as urls:
        yield urls


def license_report(region: str, key: str, serial: str) -> dict:
    identifier = f"1.2.156.3005.2.{TYPE_CODE}.{ISSUER_A}.{serial}.001.0"
    payload = {
        "identifier": identifier,
        "type_code": TYPE_CODE,
        "issuer_code": ISSUER_A,
        "holder_hash": "ab" * 32,
        "region": region,
        "status": "valid",
        "version": "001",
    }
    event = {"idempotency_key": key, "kind": "license", "at": "2025-06-01T08:00:00+08:00", "payload": payload}
    return {"region": region, "events": [event]}


def test_region_reports_with_its_client_certificate(tmp_path, two_databases):
    hub_db, a_db = two_databases
    server = server_certificate(tmp_path)
    a_port = free_port()
    a_env = environment(tmp_path / "a", a_db, region=REGION_A, public_url=f"http://127.0.0.1:{a_port}")
    cli("init", env=a_env)
    cert = issue_client_certificate(tmp_path, "region-110000", a_env)
    hub_env = environment(tmp_path / "hub", hub_db, hub_client_revocation_max_age_s=str(MAX_AGE_S))
    add = ("hub", "region", "add", "--code", REGION_A, "--name", "北京", "--client-cert", str(cert[0]))
    token_a = cli(*add, "--issuer-code", ISSUER_A, env=hub_env)
    token_b = cli("hub", "region", "add", "--code", REGION_B, "--name", "上海", env=hub_env)
    tls = [
        "--tls-cert",
        str(server[0]),
        "--tls-key",
        str(server[1]),
        "--client-ca",
        str(ca_bundle(tmp_path, a_env)),
    ]
    verify = ssl.create_default_context(cafile=str(server[0]))
    hub = Process(["hub", "serve", *tls], hub_env, free_port(), tmp_path / "hub.log", verify=verify).start()
    a_env.update(
        LONGTRUST_HUB_URL=hub.url,
        LONGTRUST_HUB_TOKEN=token_a,
        LONGTRUST_HUB_RELAY_INTERVAL_S="0.5",
        SSL_CERT_FILE=str(server[0]),  # the relay verifies the hub's server certificate
    )
    a = None
    try:
        # The hub checks a region's certificate against the region's CA certificates, so the region
        # reports them first with its hub token, then authenticates with the certificate alone.
        a = Process(["serve"], a_env, a_port, tmp_path / "a.log").start()

        def anchors_of_a():
            listing = json.loads(httpx.get(hub.url + "/hub/v1/trust-list", verify=verify).text)
            return [r for r in listing["payload"]["regions"] if r["code"] == REGION_A and r["anchors"]]

        wait_for(anchors_of_a, 60, "region A's relay to report its trust anchors with its token")
        a.stop()
        del a_env["LONGTRUST_HUB_TOKEN"]
        a_env.update(LONGTRUST_HUB_CLIENT_CERT=str(cert[0]), LONGTRUST_HUB_CLIENT_KEY=str(cert[1]))
        a = a.start()
        with tls_client(server[0], cert) as region_a, tls_client(server[0]) as region_b:
            own = region_a.post(hub.url + "/hub/v1/reports", json=license_report(REGION_A, "a1", "1"))
            assert own.status_code == 200 and own.json()["results"][0]["result"] == "accepted", own.text
            theirs = region_b.post(
                hub.url + "/hub/v1/reports",
                json=license_report(REGION_B, "b1", "2"),
                headers={"Authorization": f"Bearer {token_b}"},
            )
            assert theirs.status_code == 403, theirs.text
            assert theirs.headers["content-type"].startswith("application/problem+json")
            identifier = license_report(REGION_B, "b1", "2")["events"][0]["payload"]["identifier"]
            assert region_b.get(hub.url + f"/hub/v1/licenses/{identifier}").status_code == 404
            assert (
                region_b.post(
                    hub.url + "/hub/v1/reports", json=license_report(REGION_A, "x", "3")
                ).status_code
                == 401
            )
        a = _revoked_then_rebound(tmp_path, a, hub, verify, cert, server[0])
    finally:
        for process in (a, hub):
            if process is not None:
                process.stop()


def _revoked_then_rebound(tmp_path, a: Process, hub: Process, verify, cert, server_cert) -> Process:
    """Revoke the relay's certificate at region A's CA: the hub refuses it within the bound and the
    relay keeps the events made meanwhile; bind a new certificate and restart A with it: they arrive."""
    revoked = httpx.post(
        a.url + f"/api/v1/cas/rsa-issuing/certificates/{serial_of(cert[0])}/revoke",
        headers=a.admin(),
        json={"reason": "keyCompromise"},
    )
    assert revoked.status_code == 200, revoked.text
    revoked_at = time.monotonic()
    with tls_client(server_cert, cert) as region_a:

        def refused():
            answer = region_a.post(hub.url + "/hub/v1/reports", json={"region": REGION_A, "events": []})
            return answer if answer.status_code == 401 else None

        answer = wait_for(refused, MAX_AGE_S + 10, "the hub to refuse the revoked certificate")
    assert time.monotonic() - revoked_at < MAX_AGE_S + 10
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "127.0.0.1" not in answer.text and "ocsp" not in answer.text.lower()

    catalog = {
        "type_code": TYPE_CODE,
        "name": "测试许可证",
        "issuer_code": TYPE_CODE[:18],
        "holder_kind": "person",
    }
    made = httpx.post(
        a.url + "/api/v1/license-types", headers=a.admin(), json={**catalog, "schema": {"type": "object"}}
    )
    assert made.status_code == 201, made.text

    made = httpx.post(
        a.url + "/api/v1/tokens", headers=a.admin(), json={"role": "auditor", "name": "auditor"}
    )
    assert made.status_code == 201, made.text
    auditor = {"Authorization": f"Bearer {made.json()['token']}"}

    def backlog():
        answer = httpx.get(a.url + "/api/v1/hub/backlog", headers=auditor)
        assert answer.status_code == 200, answer.text
        return answer.json()

    waiting = wait_for(lambda: (b := backlog())["last_error"] and b, 60, "the relay to try and be refused")
    assert waiting["pending"] >= 1 and "401" in waiting["last_error"], waiting

    new_cert = issue_client_certificate(tmp_path, "region-110000-new", a.env)
    cli("hub", "region", "bind", "--code", REGION_A, "--client-cert", str(new_cert[0]), env=hub.env)
    a.stop()
    a.env.update(LONGTRUST_HUB_CLIENT_CERT=str(new_cert[0]), LONGTRUST_HUB_CLIENT_KEY=str(new_cert[1]))
    a = a.start()
    wait_for(
        lambda: backlog()["pending"] == 0, 120, "region A's backlog to reach the hub with the new certificate"
    )
    return a
