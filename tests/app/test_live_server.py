"""A real `longtrust serve --workers 2`: the example approval client runs against it end to end,
/metrics sums both workers' counters, logs are JSON lines with request ids, /docs loads offline."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings
from tests.e2e.processes import ROOT, Process, cli, environment, free_port
from tests.seal_service.test_pdf import make_pdf, make_png

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USCC = "11100000000013338W"
PROBES = 40


def _counter(text: str, name: str, **labels) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_example_client_and_operations_on_a_live_server(tmp_path):
    from app.container import build_services

    data = tmp_path / "data"
    env = environment(data, None)
    cli("init", env=env)
    settings = Settings(data_dir=data, ceremony_file=ROOT / "tests" / "ceremony-test.yaml")
    services = build_services(settings)
    try:
        seal = services.seals.create_seal(
            name="某行政审批局业务专用章",
            owner_credit_code=USCC,
            seal_type="organization",
            algorithm="rsa",
            image_png=make_png(),
            actor="test",
        )
    finally:
        services.close()
    pdf = tmp_path / "application.pdf"
    pdf.write_bytes(make_pdf())
    admin = (data / "bootstrap-admin.token").read_text().strip()
    log = tmp_path / "server.log"
    server = Process(["serve", "--workers", "2"], env, free_port(), log).start(health="/readyz")
    try:
        example = subprocess.run(
            [
                sys.executable,
                str(ROOT / "examples" / "approval_client.py"),
                "--url",
                server.url,
                "--admin-token",
                admin,
                "--seal",
                seal.seal_id,
                "--pdf",
                str(pdf),
                "--out",
                str(tmp_path / "stamped.pdf"),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert example.returncode == 0, example.stdout + example.stderr
        assert "verification: TOTAL_PASSED" in example.stdout
        assert (tmp_path / "stamped.pdf").read_bytes().startswith(b"%PDF")

        with httpx.Client(base_url=server.url, timeout=10) as http:
            for _ in range(PROBES):
                assert http.get("/livez", headers={"X-Request-ID": "probe-1"}).status_code == 200
            metrics = http.get("/metrics").text
            docs = http.get("/docs").text
            assert http.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    finally:
        server.stop()

    assert _counter(metrics, "longtrust_http_requests_total", route="/livez", status="200") == PROBES
    assert _counter(metrics, "longtrust_stamps_total", kind="pdf", outcome="ok") == 1
    assert _counter(metrics, "longtrust_certificates_issued_total", outcome="ok") == 1
    assert _counter(metrics, "longtrust_verifications_total", kind="pdf", outcome="ok") == 1
    assert _counter(metrics, "longtrust_key_signatures_total", algorithm="rsa-pkcs1-sha256") >= 2
    assert "https://" not in docs

    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in lines]
    probes = [r for r in records if r.get("route") == "/livez" and r.get("logger") == "longtrust.access"]
    assert len(probes) == PROBES and all(r["request_id"] == "probe-1" for r in probes)
    assert admin not in log.read_text()
