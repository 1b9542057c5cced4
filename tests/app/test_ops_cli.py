"""Daily-work commands as operators run them (real subprocesses): listings with headers and --json,
seal and license lifecycle, the audit log, CA requests, standalone verification, backup and restore."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.settings import Settings
from app.tokens import Principal
from tests.ca.csrs import make_csr
from tests.license_registry.support import COMPANY_SCHEMA, ISSUER, TYPE_CODE, FakePrincipal, make_license_seal
from tests.seal_service.test_pdf import make_png

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CEREMONY = Path(__file__).parents[1] / "ceremony-test.yaml"
USCC = "11100000000013338W"
KEK = base64.b64encode(os.urandom(32)).decode()


def run(*args, data: Path, check=True, **extra_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTRUST_")}
    env.update(
        LONGTRUST_DATA_DIR=str(data), LONGTRUST_CEREMONY_FILE=str(CEREMONY), LONGTRUST_KEK=KEK, **extra_env
    )
    result = subprocess.run(
        [sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env, timeout=180
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """An initialised data folder with a certificate, a seal and a license (made in process)."""
    from app.cli import initialise
    from app.container import build_services

    data = tmp_path_factory.mktemp("ops") / "data"
    data.mkdir()
    settings = Settings(data_dir=data, ceremony_file=CEREMONY, kek=KEK)
    initialise(settings)
    services = build_services(settings)
    try:
        cert = services.ca.issue("sm2-issuing", make_csr("sm2"), "organization-signing", "test", USCC)
        seal = make_license_seal(services)
        principal = FakePrincipal("registry", "registry-operator", frozenset({seal.seal_id}))
        services.registry.create_type(
            TYPE_CODE, "建筑业企业资质证书", ISSUER, "organization", COMPANY_SCHEMA, principal
        )
        today = date.today()
        license_doc = services.registry.issue(
            TYPE_CODE,
            {"name": "某建设有限公司", "id_number": "91440300708461136T"},
            {"certificate_number": "D1", "qualification": "一级"},
            today,
            today + timedelta(days=30),
            seal.seal_id,
            principal,
        )
        trust = services.trust_anchors()
    finally:
        services.close()
    return {
        "data": data,
        "cert": cert,
        "seal": seal.seal_id,
        "license": license_doc["identifier"],
        "trust": trust,
    }


def test_version():
    result = subprocess.run([sys.executable, "-m", "app", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("longtrust ")


def test_listings_have_headers_and_json(deployment):
    data = deployment["data"]
    table = run("seal", "list", data=data).stdout
    assert "seal_id" in table.splitlines()[1] and deployment["seal"] in table
    seals = json.loads(run("seal", "list", "--json", data=data).stdout)
    assert [s["seal_id"] for s in seals] == [deployment["seal"]]
    licenses = json.loads(
        run("license", "list", "--json", "--holder-id", "91440300708461136T", data=data).stdout
    )
    assert [d["identifier"] for d in licenses] == [deployment["license"]]
    shown = json.loads(run("license", "show", deployment["license"], "--json", data=data).stdout)
    assert shown["status"] == "valid"
    seal = json.loads(run("seal", "show", deployment["seal"], "--json", data=data).stdout)
    assert seal["status"] == "active" and "seal_der" not in seal
    events = json.loads(run("audit", "show", "--json", "--action", "seal.create", data=data).stdout)
    assert events and all(e["action"] == "seal.create" for e in events)
    assert "action" in run("audit", "show", "--limit", "3", data=data).stdout


def test_audit_export_writes_json_lines(deployment, tmp_path):
    out = tmp_path / "audit.jsonl"
    run("audit", "export", "--out", str(out), data=deployment["data"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [e["id"] for e in lines]
    assert ids == sorted(set(ids)) and lines
    streamed = run("audit", "export", data=deployment["data"]).stdout.splitlines()
    assert [json.loads(line) for line in streamed] == lines


def test_ca_crl_for_every_ca_reports_progress(deployment):
    result = run("ca", "crl", data=deployment["data"])
    assert "published 4 CRL(s)" in result.stdout


def test_standalone_verify_uses_the_trust_list_and_creates_nothing(deployment, tmp_path):
    trust = tmp_path / "trust-list.json"
    trust.write_text(json.dumps(deployment["trust"]))
    cert = tmp_path / "cert.pem"
    cert.write_text(deployment["cert"].certificate_pem)
    empty = tmp_path / "empty"
    empty.mkdir()
    ok = run(
        "verify",
        str(cert),
        "--trust-list",
        str(trust),
        "--json",
        data=empty,
        check=False,
        LONGTRUST_VERIFY_FETCH_REVOCATION="false",
    )
    report = json.loads(ok.stdout)
    assert report.get("sub_indication") != "NO_CERTIFICATE_CHAIN_FOUND", ok.stdout
    assert list(empty.iterdir()) == []  # no database, nothing at all
    foreign = {
        **deployment["trust"],
        "anchors": [a for a in deployment["trust"]["anchors"] if a["id"].startswith("rsa")],
    }
    trust.write_text(json.dumps(foreign))
    refused = run(
        "verify",
        str(cert),
        "--trust-list",
        str(trust),
        "--json",
        data=empty,
        check=False,
        LONGTRUST_VERIFY_FETCH_REVOCATION="false",
    )
    assert refused.returncode == 1
    assert json.loads(refused.stdout)["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"
    bad = run("verify", str(cert), "--trust-list", str(tmp_path / "nope.json"), data=empty, check=False)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert list(empty.iterdir()) == []


def test_seal_and_ca_request_commands(tmp_path):
    from app.cli import initialise
    from app.container import build_services

    data = tmp_path / "data"
    data.mkdir()
    settings = Settings(data_dir=data, ceremony_file=CEREMONY, kek=KEK)
    initialise(settings)
    services = build_services(settings)
    try:
        seal = services.seals.create_seal(
            name="章",
            owner_credit_code=USCC,
            seal_type="organization",
            algorithm="sm2",
            image_png=make_png(),
            actor="test",
        )
        sub = {
            "id": "sm2-health",
            "name": "Health CA",
            "parent": "sm2-root",
            "key": "sm2",
            "subject": {"C": "CN", "O": "LongTrust", "CN": "Health CA"},
            "validity_days": 1000,
        }
        alice = Principal(token_id="tok-alice", name="alice", role="security-admin", operator="alice")
        wanted = services.approvals.submit("ca.create", sub, alice).body["request_id"]
        unwanted = services.approvals.submit("ca.create", {**sub, "id": "sm2-other"}, alice).body[
            "request_id"
        ]
    finally:
        services.close()
    assert (
        run("seal", "suspend", seal.seal_id, "--reason", "lost", data=data)
        .stdout.strip()
        .endswith("suspended")
    )
    assert run("seal", "resume", seal.seal_id, data=data).stdout.strip().endswith("active")
    assert run("seal", "revoke", seal.seal_id, data=data).stdout.strip().endswith("revoked")
    again = run("seal", "resume", seal.seal_id, data=data, check=False)
    assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1

    pending = json.loads(run("ca", "request", "list", "--status", "pending", "--json", data=data).stdout)
    assert {r["request_id"] for r in pending} == {wanted, unwanted}
    assert run("ca", "request", "approve", wanted, data=data).stdout.strip() == f"{wanted} approved"
    assert run("ca", "request", "reject", unwanted, data=data).stdout.strip() == f"{unwanted} rejected"
    assert "sm2-health" in run("ca", "list", data=data).stdout
    assert json.loads(run("ca", "request", "list", "--status", "pending", "--json", data=data).stdout) == []


def test_restore_drill(deployment, tmp_path):
    source = tmp_path / "live"
    shutil.copytree(deployment["data"], source)
    archive = tmp_path / "backup.tar.gz"
    run("backup", "--to", str(archive), data=source)
    raw = gzip.decompress(archive.read_bytes())
    assert KEK.encode() not in raw and base64.b64decode(KEK) not in raw
    assert (source / "bootstrap-admin.token").read_text().strip().encode() not in raw
    before = {what: run(what, "list", "--json", data=source).stdout for what in ("seal", "license")}

    shutil.rmtree(source)  # the disaster
    run("restore", "--from", str(archive), data=source)
    assert "intact" in run("audit", "verify", data=source).stdout
    for what, listed in before.items():
        assert run(what, "list", "--json", data=source).stdout == listed
    status = run(
        "ca", "status", "--ca", "sm2-issuing", "--serial", deployment["cert"].serial_hex, data=source
    )
    assert "good" in status.stdout
    assert json.loads(run("license", "show", deployment["license"], "--json", data=source).stdout)[
        "status"
    ] == ("valid")

    refused = run("restore", "--from", str(archive), data=source, check=False)
    assert refused.returncode != 0 and "not empty" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    run("restore", "--from", str(archive), "--force", data=source)
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(archive.read_bytes()[:-200])
    bad = run("restore", "--from", str(damaged), data=tmp_path / "elsewhere", check=False)
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
