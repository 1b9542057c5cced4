"""A region at the hub with a client certificate, over real TLS: the region's relay authenticates with
the certificate its own CA issued (no hub token), and another region reporting a license of this
region's issuer is refused with 403."""

from __future__ import annotations

import json
import ssl

import httpx
import pytest

from tests.e2e.processes import Process, cli, databases, environment, free_port, wait_for
from tests.e2e.test_mtls import ca_bundle, issue_client_certificate, server_certificate, tls_client

REGION_A, REGION_B = "110000", "310000"
ISSUER_A = "11110000000000000X"
TYPE_CODE = "11100000000013338W032"


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
    hub_env = environment(tmp_path / "hub", hub_db)
    add = ("hub", "region", "add", "--code", REGION_A, "--name", "北京", "--client-cert", str(cert[0]))
    cli(*add, "--issuer-code", ISSUER_A, env=hub_env)
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
        LONGTRUST_HUB_CLIENT_CERT=str(cert[0]),
        LONGTRUST_HUB_CLIENT_KEY=str(cert[1]),
        LONGTRUST_HUB_RELAY_INTERVAL_S="0.5",
        SSL_CERT_FILE=str(server[0]),  # the relay verifies the hub's server certificate
    )
    a = None
    try:
        a = Process(["serve"], a_env, a_port, tmp_path / "a.log").start()

        def anchors_of_a():
            listing = json.loads(httpx.get(hub.url + "/hub/v1/trust-list", verify=verify).text)
            return [r for r in listing["payload"]["regions"] if r["code"] == REGION_A and r["anchors"]]

        wait_for(anchors_of_a, 60, "region A's relay to report its trust anchors with its certificate")
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
    finally:
        for process in (a, hub):
            if process is not None:
                process.stop()
