"""Two regions and the national hub as real processes: licenses issued and revoked in region A while
the hub is down reach it exactly once when it starts, and region B verifies every one of them."""

from __future__ import annotations

import base64
from datetime import date

import httpx
import pytest

from tests.ca.csrs import make_csr
from tests.e2e.processes import Process, cli, databases, environment, free_port, make_seal, wait_for
from tests.seal_service.test_pdf import make_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
REGION_A, REGION_B = "110000", "310000"
ISSUER = "11100000000013338W"  # the issuing body, owner of the seal
TYPE_CODE = ISSUER + "032"
LICENSES, REVOKED = 100, 10
SCHEMA = {"type": "object", "required": ["licence_no"], "properties": {"licence_no": {"type": "string"}}}


@pytest.fixture(params=["sqlite", "postgresql"])
def three_databases(request):
    """Three independent databases (hub, A, B)."""
    with databases(request.param, 3) as urls:
        yield urls


def _citizen_id(n: int) -> str:
    body = f"11010519900101{n:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def test_licenses_cross_regions_through_an_intermittent_hub(tmp_path, three_databases):
    hub_db, a_db, b_db = three_databases
    hub_port = free_port()
    hub_env = environment(tmp_path / "hub", hub_db)
    token_a = cli("hub", "region", "add", "--code", REGION_A, "--name", "北京", env=hub_env)
    token_b = cli("hub", "region", "add", "--code", REGION_B, "--name", "上海", env=hub_env)
    hub = Process(["hub", "serve"], hub_env, hub_port, tmp_path / "hub.log")
    hub_url = f"http://127.0.0.1:{hub_port}"
    region = {}
    for code, token, db in ((REGION_A, token_a, a_db), (REGION_B, token_b, b_db)):
        port = free_port()
        env = environment(
            tmp_path / code,
            db,
            region=code,
            hub_url=hub_url,
            hub_token=token,
            hub_relay_interval_s="0.5",
            hub_trust_refresh_s="1",
            verify_fetch_max_age_s="1",
            public_url=f"http://127.0.0.1:{port}",
        )
        region[code] = Process(["serve"], env, port, tmp_path / f"{code}.log").start()
    a, b = region[REGION_A], region[REGION_B]
    try:
        _scenario(a, b, hub, tmp_path)
    finally:
        for process in (a, b, hub):
            process.stop()


def _scenario(a: Process, b: Process, hub: Process, tmp_path) -> None:
    admin = a.admin()
    seal_id = make_seal(a, admin, "北京市测试局电子证照专用章", ISSUER)
    operator = httpx.post(
        a.url + "/api/v1/tokens",
        headers=admin,
        json={"role": "registry-operator", "name": "registry", "seals": [seal_id]},
    ).json()["token"]
    ops = {"Authorization": f"Bearer {operator}"}
    created = httpx.post(
        a.url + "/api/v1/license-types",
        headers=ops,
        json={
            "type_code": TYPE_CODE,
            "name": "测试许可证",
            "issuer_code": ISSUER,
            "holder_kind": "person",
            "schema": SCHEMA,
        },
    )
    assert created.status_code == 201, created.text

    identifiers = []
    with httpx.Client(base_url=a.url, headers=ops, timeout=60) as client:
        for n in range(LICENSES):
            r = client.post(
                "/api/v1/licenses",
                json={
                    "type_code": TYPE_CODE,
                    "holder": {"name": f"持证人{n}", "id_number": _citizen_id(n)},
                    "data": {"licence_no": f"京{n:05d}"},
                    "valid_from": date.today().isoformat(),
                    "seal_id": seal_id,
                },
            )
            assert r.status_code == 201, r.text
            identifiers.append(r.json()["identifier"])
        revoked = set(identifiers[:REVOKED])
        for identifier in revoked:
            r = client.post(f"/api/v1/licenses/{identifier}/revoke", json={"reason": "注销"})
            assert r.status_code == 200, r.text
        backlog = client.get("/api/v1/hub/backlog").json()
        assert backlog["pending"] >= LICENSES + REVOKED  # the hub is down: everything waits

        hub.start(health="/hub/v1/certificate.pem")
        wait_for(lambda: client.get("/api/v1/hub/backlog").json()["pending"] == 0, 120, "region A's backlog")
        documents = [client.get(f"/api/v1/licenses/{i}").json() for i in identifiers]
        license_file = client.get(f"/api/v1/licenses/{identifiers[-1]}/file")
        assert license_file.headers["content-type"] == "application/ofd", license_file.text

    for identifier in identifiers:
        status = httpx.get(f"{hub.url}/hub/v1/licenses/{identifier}").json()
        assert status["region"] == REGION_A
        assert status["status"] == ("revoked" if identifier in revoked else "valid")

    results = {}
    with httpx.Client(base_url=b.url, timeout=60) as client:
        for document in documents:
            report = client.post("/api/v1/verify/license", json=document).json()
            results[document["identifier"]] = report
        ofd = client.post(
            "/api/v1/verify/ofd", content=license_file.content, headers={"Content-Type": "application/ofd"}
        ).json()
        assert ofd["indication"] == "TOTAL_PASSED", ofd  # the printable file verifies in region B too
    passed = [i for i, r in results.items() if r["indication"] == "TOTAL_PASSED"]
    failed = {i: r["sub_indication"] for i, r in results.items() if r["indication"] == "TOTAL_FAILED"}
    not_passed = [
        r["checks"] for i, r in results.items() if i not in revoked and r["indication"] != "TOTAL_PASSED"
    ]
    assert len(passed) == LICENSES - REVOKED, "\n".join(
        f"{c['name']}: {c['result']} {c['detail']}" for c in (not_passed[:1] or [[]])[0]
    )
    assert failed == {i: "REVOKED" for i in revoked}

    tampered = {**documents[-1], "data": {"licence_no": "京99999"}}
    report = httpx.post(b.url + "/api/v1/verify/license", json=tampered, timeout=60).json()
    assert report["indication"] == "TOTAL_FAILED" and report["sub_indication"] == "HASH_FAILURE"
    _assert_exactly_once(hub, a)
    _region_b_trusts_what_region_a_makes(a, b)


def _indication(report: dict) -> tuple[str, str | None]:
    return report["indication"], report.get("sub_indication")


def _region_b_trusts_what_region_a_makes(a: Process, b: Process) -> None:
    """B verifies A's certificates, seals, data stamps and stamped PDFs at every PAdES level with
    SM2 and RSA, through the hub's trust list; then A's revocations show at B."""
    admin = a.admin()
    seals = {alg: make_seal(a, admin, f"北京市测试局{alg}章", ISSUER, alg) for alg in ("sm2", "rsa")}
    stamper = _token(a, admin, "approval-system", list(seals.values()))
    operator = _token(a, admin, "ca-operator", [])
    issued = {
        alg: httpx.post(
            f"{a.url}/api/v1/cas/{alg}-issuing/certificates",
            headers=operator,
            timeout=60,
            json={
                "csr_pem": make_csr(alg).decode(),
                "profile": "organization-signing",
                "credit_code": ISSUER,
            },
        ).json()
        for alg in ("sm2", "rsa")
    }
    verify = httpx.Client(base_url=b.url, timeout=120)
    for alg, cert in issued.items():
        body = {"certificate_pem": cert["certificate_pem"], "chain_pem": cert["chain_pem"]}
        report = wait_for(
            lambda body=body: _passed(verify.post("/api/v1/verify/certificate", json=body)),
            60,
            f"region B to trust A's {alg} certificate",
        )
        assert _indication(report) == ("TOTAL_PASSED", None)
    pdfs = {}
    for alg, seal_id in seals.items():
        seal = httpx.get(f"{a.url}/api/v1/seals/{seal_id}", headers=admin).json()
        assert _indication(
            verify.post("/api/v1/verify/seal", json={"seal_der_b64": seal["seal_der_b64"]}).json()
        ) == ("TOTAL_PASSED", None)
        stamp = httpx.post(
            f"{a.url}/api/v1/seals/{seal_id}/stamp/data", headers=stamper, json={"n": 1}, timeout=60
        )
        body = {
            "ses_signature_der_b64": stamp.json()["ses_signature_der_b64"],
            "data_b64": base64.b64encode(b'{"n":1}').decode(),
        }
        assert _indication(verify.post("/api/v1/verify/seal", json=body).json()) == ("TOTAL_PASSED", None)
        for level in ("B-B", "B-T", "B-LT", "B-LTA"):
            stamped = httpx.post(
                f"{a.url}/api/v1/seals/{seal_id}/stamp/pdf",
                params={"level": level},
                headers={**stamper, "Content-Type": "application/pdf"},
                content=make_pdf(),
                timeout=120,
            )
            assert stamped.status_code == 200, stamped.text
            pdfs[alg, level] = stamped.content
            report = verify.post(
                "/api/v1/verify/pdf", content=stamped.content, headers={"Content-Type": "application/pdf"}
            ).json()
            assert _indication(report) == ("TOTAL_PASSED", None), (alg, level, report)

    revoked = httpx.post(
        f"{a.url}/api/v1/cas/sm2-issuing/certificates/{issued['sm2']['serial_hex']}/revoke",
        headers=operator,
        json={"reason": "keyCompromise"},
    )
    assert revoked.status_code == 200, revoked.text
    body = {"certificate_pem": issued["sm2"]["certificate_pem"], "chain_pem": issued["sm2"]["chain_pem"]}
    # B sees it once its fetched copy of A's revocation data is older than LONGTRUST_VERIFY_FETCH_MAX_AGE_S
    wait_for(
        lambda: (
            _indication(verify.post("/api/v1/verify/certificate", json=body).json())
            == ("TOTAL_FAILED", "REVOKED")
        ),
        30,
        "region B to see A's revocation",
    )
    assert (
        httpx.post(
            f"{a.url}/api/v1/seals/{seals['rsa']}/revoke",
            headers=admin,
            json={"reason": "keyCompromise"},
            timeout=60,
        ).status_code
        == 200
    )

    def pdf_revoked() -> bool:
        headers = {"Content-Type": "application/pdf"}
        report = verify.post("/api/v1/verify/pdf", content=pdfs["rsa", "B-B"], headers=headers).json()
        return report["indication"] != "TOTAL_PASSED" and "REVOKED" in (report["sub_indication"] or "")

    wait_for(pdf_revoked, 30, "region B to see the revoked seal's certificate in A's PDF")
    verify.close()


def _passed(response: httpx.Response) -> dict | None:
    report = response.json()
    return report if report["indication"] == "TOTAL_PASSED" else None


def _token(process: Process, admin: dict, role: str, seals: list[str]) -> dict:
    body = {"role": role, "name": role, "seals": seals}
    token = httpx.post(f"{process.url}/api/v1/tokens", headers=admin, json=body).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _assert_exactly_once(hub: Process, a: Process) -> None:
    """Every event region A queued was accepted by the hub once, and nothing else arrived."""
    from sqlalchemy import func, select

    from db.base import Database
    from license_registry.models import OutboxEvent
    from national_hub.models import HubReceivedEvent

    a_db = Database(
        a.env.get("LONGTRUST_DATABASE_URL") or f"sqlite:///{a.env['LONGTRUST_DATA_DIR']}/longtrust.db"
    )
    hub_db = Database(
        hub.env.get("LONGTRUST_DATABASE_URL") or f"sqlite:///{hub.env['LONGTRUST_DATA_DIR']}/longtrust.db"
    )
    try:
        with a_db.read() as s:
            sent = set(s.scalars(select(OutboxEvent.idempotency_key)))
            undelivered = s.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.delivered_at.is_(None))
            )
        with hub_db.read() as s:
            rows = s.execute(
                select(HubReceivedEvent.idempotency_key, HubReceivedEvent.result).where(
                    HubReceivedEvent.region == REGION_A
                )
            ).all()
    finally:
        a_db.dispose()
        hub_db.dispose()
    assert undelivered == 0
    received = [key for key, _ in rows]
    assert sorted(received) == sorted(sent)  # each exactly once (the hub keys events uniquely)
    assert {result for _, result in rows} == {"accepted"}
