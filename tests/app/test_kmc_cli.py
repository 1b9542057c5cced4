"""`longtrust ca pair` and `longtrust kmc recover/approve` as operators run them."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from asn1crypto import pem, x509
from cryptography.hazmat.primitives import serialization

from tests.app.test_cli import run

pytestmark = [pytest.mark.interop, pytest.mark.slow]

OPENSSL = shutil.which("openssl")


def openssl(*args: str) -> bytes:
    result = subprocess.run([OPENSSL, *args], capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


@pytest.mark.skipif(OPENSSL is None, reason="the openssl CLI is not installed")
def test_pair_and_recovery_from_the_command_line(tmp_path):
    data = tmp_path / "data"
    run("init", data_dir=data)
    key, csr = tmp_path / "signing.key", tmp_path / "signing.csr"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    openssl("req", "-new", "-key", str(key), "-subj", "/C=CN/O=Test Bureau/CN=Test Bureau", "-out", str(csr))
    out = tmp_path / "pair"
    args = ["--ca", "rsa-issuing", "--csr", str(csr), "--profile", "organization-signing"]
    printed = run(
        "ca", "pair", *args, "--credit-code", "91440300708461136T", "--out", str(out), data_dir=data
    )
    enc_serial = printed.stdout.split("encryption ")[1].split(":")[0]
    enc_cert = x509.Certificate.load(pem.unarmor((out / "encryption.pem").read_bytes())[2])
    assert format(enc_cert.serial_number, "x") == enc_serial.lstrip("0")

    def opened(enveloped) -> bytes:
        pkcs8 = openssl(
            "cms", "-decrypt", "-inform", "DER", "-in", str(enveloped), "-inkey", str(key), "-binary"
        )
        public = serialization.load_der_private_key(pkcs8, None).public_key()
        return public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    assert opened(out / "enveloped-key.der") == enc_cert.public_key.dump()

    recover = ["kmc", "recover", "--ca", "rsa-issuing", "--serial", enc_serial, "--reason", "lost token"]
    recover += ["--case-reference", "HD-2026-7", "--recipient", str(out / "signing.pem")]
    request_id = run(*recover, data_dir=data, user="alice").stdout.strip()
    released = tmp_path / "released.der"
    refused = run(
        "kmc", "approve", request_id, "--out", str(released), data_dir=data, user="alice", check=False
    )
    assert refused.returncode == 1 and "dual control" in refused.stderr and not released.exists()
    run("kmc", "approve", request_id, "--out", str(released), data_dir=data, user="bob")
    assert opened(released) == enc_cert.public_key.dump()
    listed = run("kmc", "list", data_dir=data).stdout
    row = f"{request_id}\trsa-issuing/{enc_serial}\tapproved by security-admin:cli:bob"
    assert f"{row}\tsecurity-admin:cli:alice\tHD-2026-7" in listed

    second = run(*recover, data_dir=data, user="alice").stdout.strip()
    run("kmc", "reject", second, data_dir=data, user="bob")
    shown = run("ca", "request", "list", "--status", "all", "--json", data_dir=data).stdout
    decided = {r["request_id"]: (r["operation"], r["status"]) for r in json.loads(shown)}
    assert decided == {request_id: ("key.recovery", "approved"), second: ("key.recovery", "rejected")}
    events = [json.loads(line) for line in run("audit", "export", data_dir=data).stdout.splitlines()]
    steps = [
        (e["actor"], e["action"])
        for e in events
        if e["subject"] == request_id or (e["action"].endswith("release") and "HD-2026-7" in str(e))
    ]
    both = "security-admin:cli:alice+security-admin:cli:bob"
    assert steps == [
        ("security-admin:cli:alice", "approval.request"),
        ("security-admin:cli:bob", "approval.approve"),
        (both, "key.recovery-release"),
        (both, "kmc.release"),
    ]
