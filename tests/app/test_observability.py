"""Probes, Prometheus metrics, request ids and the JSON access log, and the offline API docs."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging

import pytest
from asn1crypto import pem, x509
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.container import build_services
from app.main import create_app
from app.observability import RequestIdFilter, logging_config
from tests.ca.csrs import make_csr, ocsp_request
from tests.conftest import auth
from tests.seal_service.test_pdf import make_png

USCC = "11100000000013338W"


def test_probes_are_public_and_ready(client):
    assert client.get("/livez").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "keys": "ok"}


def test_readyz_names_a_ca_key_that_does_not_load(client, services):
    ca = next(c for c in services.ca.list_cas() if c.id == "sm2-issuing")
    with services.db.unit_of_work() as s:
        services.keys.disable(s, ca.key_ref, "test", "drill")
    r = client.get("/readyz")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["checks"]["keys"] != "ok" and r.json()["checks"]["database"] == "ok"
    assert "keys" in r.json()["detail"]


def test_readyz_names_an_unreachable_hub(settings, services):
    from tests.e2e.processes import free_port

    hub = settings.model_copy(update={"hub_url": f"http://127.0.0.1:{free_port()}", "hub_token": "hub_x"})
    wired = build_services(hub)
    try:
        with TestClient(create_app(hub, wired), raise_server_exceptions=False) as c:
            r = c.get("/readyz")
    finally:
        wired.close()
    assert r.status_code == 503
    assert set(r.json()["checks"]) == {"database", "keys", "hub"} and r.json()["checks"]["hub"] != "ok"


def _samples(client) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _moved(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_a_mixed_workload_without_identifiers(client, services, token):
    before = _samples(client)
    ops = auth(token("ca-operator"))
    issued = client.post(
        "/api/v1/cas/sm2-issuing/certificates",
        headers=ops,
        json={"csr_pem": make_csr("sm2").decode(), "profile": "organization-signing", "credit_code": USCC},
    )
    assert issued.status_code == 201, issued.text
    refused = client.post(
        "/api/v1/cas/sm2-issuing/certificates",
        headers=ops,
        json={"csr_pem": "garbage", "profile": "organization-signing", "credit_code": USCC},
    )
    assert refused.status_code == 400
    seal = services.seals.create_seal(
        name="测试章",
        owner_credit_code=USCC,
        seal_type="organization",
        algorithm="sm2",
        image_png=make_png(),
        actor="test",
    )
    stamper = auth(token("approval-system", seals=[seal.seal_id]))
    assert client.post(f"/api/v1/seals/{seal.seal_id}/stamp/data", headers=stamper, json={"a": 1}).is_success
    verified = client.post(
        "/api/v1/verify/certificate", json={"certificate_pem": issued.json()["certificate_pem"]}
    )
    assert verified.status_code == 200
    assert client.post(
        "/ocsp", content=b"junk", headers={"Content-Type": "application/ocsp-request"}
    ).is_success
    # The framework's OCSP route: a chunked body (no Content-Length) is not taken by the fast path.
    assert client.post(
        "/ocsp", content=iter([b"ju", b"nk"]), headers={"Content-Type": "application/ocsp-request"}
    ).is_success
    after = _samples(client)

    assert _moved(before, after, "longtrust_certificates_issued_total", outcome="ok") == 1
    assert _moved(before, after, "longtrust_certificates_issued_total", outcome="refused") == 1
    assert _moved(before, after, "longtrust_stamps_total", kind="data", outcome="ok") == 1
    assert _moved(before, after, "longtrust_verifications_total", kind="certificate", outcome="ok") == 1
    assert _moved(before, after, "longtrust_ocsp_requests_total", outcome="refused") == 2
    assert _moved(before, after, "longtrust_key_signatures_total", algorithm="sm2-sm3") >= 3
    route = "/api/v1/cas/{ca_id}/certificates"
    assert (
        _moved(before, after, "longtrust_http_request_duration_seconds_count", method="POST", route=route)
        == 2
    )
    assert ("longtrust_outbox_pending", ()) in after and ("longtrust_outbox_lag_seconds", ()) in after
    text = client.get("/metrics").text
    assert seal.seal_id not in text and issued.json()["serial_hex"] not in text and USCC not in text


def test_metrics_can_be_closed(settings, services):
    closed = settings.model_copy(update={"metrics": "off"})
    with TestClient(create_app(closed, services), raise_server_exceptions=False) as c:
        assert c.get("/metrics").status_code == 404


def test_request_ids_in_and_out_and_an_access_log_without_secrets(client, token, caplog):
    secret = token("auditor")
    with caplog.at_level(logging.INFO, logger="longtrust.access"):
        given = client.get("/api/v1/keys", headers={**auth(secret), "X-Request-ID": "req-42"})
        fresh = client.get("/livez")
        hostile = client.get("/livez", headers={"X-Request-ID": "bad id\nwith newline"})
        client.get("/openapi.json")
        client.get("/no/such/route")
        client.post(f"/api/v1/tokens/{secret}/revoke")  # a route parameter is never logged
        client.get(f"/docs/assets/{secret}")  # nor a file name under a mount
    assert given.headers["x-request-id"] == "req-42"
    assert len(fresh.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "bad id\nwith newline"
    lines = [r for r in caplog.records if r.name == "longtrust.access"]
    keys_line = next(r for r in lines if r.route == "/api/v1/keys")
    assert keys_line.request_id == "req-42" and keys_line.status == 200 and keys_line.method == "GET"
    routes = {r.route for r in lines}
    assert {"/openapi.json", "unmatched", "/livez", "/api/v1/tokens/{token_id}/revoke"} <= routes
    assert "/no/such/route" not in routes
    assert all(
        secret not in r.getMessage() and secret not in json.dumps(r.__dict__, default=str) for r in lines
    )


def _ocsp_request_for_issued(client, token) -> bytes:
    issued = client.post(
        "/api/v1/cas/rsa-issuing/certificates",
        headers=auth(token("ca-operator")),
        json={"csr_pem": make_csr("rsa").decode(), "profile": "organization-signing", "credit_code": USCC},
    ).json()
    cert, issuer = (
        x509.Certificate.load(pem.unarmor(issued[k].encode())[2]) for k in ("certificate_pem", "chain_pem")
    )
    return ocsp_request(cert.serial_number, issuer)


def test_ocsp_answers_are_logged_one_in_n_unless_refused_and_all_counted(settings, services, token, caplog):
    sampled = settings.model_copy(update={"ocsp_log_every": 3})
    media = {"Content-Type": "application/ocsp-request"}
    with TestClient(create_app(sampled, services), raise_server_exceptions=False) as c:
        request = _ocsp_request_for_issued(c, token)
        encoded = base64.urlsafe_b64encode(request).decode()
        before = _samples(c)
        answers, junk = [], []
        with caplog.at_level(logging.INFO, logger="longtrust.access"):
            for _ in range(3):  # a refused answer before every two good ones
                junk.append(c.post("/ocsp", content=b"junk", headers=media))
                answers += [c.post("/ocsp", content=request, headers=media), c.get(f"/ocsp/{encoded}")]
            junk.append(c.get("/ocsp/not-base64!"))
            c.get("/livez")
        after = _samples(c)
    assert all(a.status_code == 200 for a in answers + junk)
    ids = {a.headers["x-request-id"] for a in answers}
    assert len(ids) == 6 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    lines = [r for r in caplog.records if r.name == "longtrust.access"]
    # Good answers 1 and 4 of the six (refused ones do not move the count); every malformedRequest.
    assert [r.ocsp_status for r in lines if r.route != "/livez"].count("successful") == 2
    assert [r.ocsp_status for r in lines if r.route != "/livez"].count("malformedRequest") == 4
    assert [r.route for r in lines].count("/livez") == 1
    assert _moved(before, after, "longtrust_ocsp_requests_total", outcome="ok") == 6
    assert _moved(before, after, "longtrust_ocsp_requests_total", outcome="refused") == 4


def test_a_client_that_leaves_before_its_answer_is_499_not_500(client):
    messages = iter([{"type": "http.request", "body": b"\x30\x82", "more_body": True}])
    sent = []

    async def receive():
        return next(messages, {"type": "http.disconnect"})

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", b"application/ocsp-request"), (b"content-length", b"100")]
    scope = {"type": "http", "method": "POST", "path": "/ocsp", "headers": headers, "query_string": b""}
    before = _samples(client)
    asyncio.run(client.app(scope, receive, send))  # the OCSP fast path: it returns without answering
    after = _samples(client)
    labels = {"method": "POST", "route": "/ocsp"}
    assert sent == []
    assert _moved(before, after, "longtrust_http_requests_total", **labels, status="499") == 1
    assert _moved(before, after, "longtrust_http_requests_total", **labels, status="500") == 0


@pytest.mark.parametrize("serial", [7, 2**127 + 1], ids=["small", "beyond-64-bits"])
def test_log_lines_are_one_json_object_each(serial):
    formatter_spec = dict(logging_config("json")["formatters"]["main"])
    factory = formatter_spec.pop("()")
    module, _, name = factory.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(**formatter_spec)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("longtrust.test-json")
    logger.addHandler(handler)
    try:
        logger.warning("two\nlines", extra={"route": "/livez", "serial": serial})
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "two\nlines" and record["level"] == "WARNING" and record["route"] == "/livez"
    assert record["request_id"] == "-" and record["serial"] == serial


def test_docs_are_served_from_bundled_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "http://" not in page.text.replace("http://testserver", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/docs/assets/{asset}" in page.text
        assert client.get(f"/docs/assets/{asset}").status_code == 200


def test_openapi_has_bearer_auth_summaries_and_clean_names(client):
    from app.api_reference import OPERATIONS

    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a LongTrust API token (lt_…)",
    }
    operations = {(m, p): op for p, ops in spec["paths"].items() for m, op in ops.items()}
    assert all(op.get("summary") for op in operations.values())
    assert set(OPERATIONS) - {("get", "/metrics")} <= set(operations)  # the reference names no stale routes
    assert all(operations[k].get("description") for k in OPERATIONS if k in operations)
    assert not [name for name in spec["components"]["schemas"] if "__" in name]
    assert {"CaIssueIn", "LicenseRegistryIssueIn"} <= set(spec["components"]["schemas"])
    stamp = operations[("post", "/api/v1/seals/{seal_id}/stamp/pdf")]
    assert stamp["requestBody"]["content"]["application/pdf"]["schema"]["format"] == "binary"
    assert "from 0" in stamp["description"] and "bottom-left" in stamp["description"]
    assert operations[("get", "/api/v1/keys")]["security"] == [{"bearer": []}]
    assert "security" not in operations[("post", "/api/v1/verify/pdf")]
    issue = operations[("post", "/api/v1/cas/{ca_id}/certificates")]
    assert issue["requestBody"]["content"]["application/json"]["example"]["profile"] == "organization-signing"


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/livez", "/readyz", "/metrics"])
def test_operational_pages_are_public(client, path):
    assert client.get(path).status_code == 200


def test_the_access_log_can_be_turned_off(settings, services, caplog):
    quiet = settings.model_copy(update={"access_log": False})
    with (
        caplog.at_level(logging.INFO, logger="longtrust.access"),
        TestClient(create_app(quiet, services), raise_server_exceptions=False) as c,
    ):
        assert c.get("/livez").headers["x-request-id"]
    assert not [r for r in caplog.records if r.name == "longtrust.access"]
