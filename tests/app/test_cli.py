"""The command line as operators use it: a real subprocess on a fresh data folder."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LONGTRUST = [sys.executable, "-m", "app"]


def run(*args, data_dir: Path, check=True, user: str | None = None):
    env = {**os.environ, "LONGTRUST_DATA_DIR": str(data_dir), **({"USER": user} if user else {})}
    env.pop("LONGTRUST_DATABASE_URL", None)
    result = subprocess.run([*LONGTRUST, *args], capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_init_is_idempotent_and_audit_detects_tampering(tmp_path):
    data = tmp_path / "data"
    first = run("init", data_dir=data)
    assert "initialised" in first.stdout
    token_file = data / "bootstrap-admin.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text()
    second = run("init", data_dir=data)
    assert "nothing changed" in second.stdout
    assert token_file.read_text() == token

    cas = run("ca", "list", data_dir=data).stdout
    for ca_id in ("sm2-root", "sm2-issuing", "rsa-root", "rsa-issuing"):
        assert ca_id in cas
    assert run("token", "create", "--role", "auditor", "--name", "x", data_dir=data).stdout.startswith("lt_")
    run("audit", "checkpoint", data_dir=data)  # the sequencer's periodic run
    assert "intact" in run("audit", "verify", data_dir=data).stdout

    with sqlite3.connect(data / "longtrust.db") as conn:
        conn.execute(
            "UPDATE audit_events SET actor = 'mallory'"
            " WHERE id = (SELECT event_id FROM audit_tree WHERE level = 0 AND idx = 2)"
        )
    bad = run("audit", "verify", data_dir=data, check=False)
    assert bad.returncode == 1
    assert "TAMPERED" in bad.stderr and "event 3" in bad.stderr


def test_errors_are_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGTRUST_CEREMONY_FILE", str(Path(__file__).parents[1] / "ceremony-test.yaml"))
    data = tmp_path / "data"
    run("init", data_dir=data)
    bad = run("token", "create", "--role", "emperor", "--name", "x", data_dir=data, check=False)
    assert bad.returncode != 0
    assert bad.stderr.strip().count("\n") == 0 and "unknown role" in bad.stderr
    missing = run("ca", "status", "--ca", "nope", "--serial", "01", data_dir=data, check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_verify_command_exit_code_follows_the_indication(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGTRUST_CEREMONY_FILE", str(Path(__file__).parents[1] / "ceremony-test.yaml"))
    data = tmp_path / "data"
    run("init", data_dir=data)
    root = tmp_path / "root.pem"
    root.write_bytes(root_certificate_pem(data))
    ok = run("verify", str(root), data_dir=data, check=False)
    assert ok.returncode == 0 and "TOTAL_PASSED" in ok.stdout, ok.stdout + ok.stderr
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x30\x03\x02\x01\x01")
    bad = run("verify", str(garbage), data_dir=data, check=False)
    assert bad.returncode == 1 and "TOTAL_FAILED" in bad.stdout, bad.stdout + bad.stderr
    from tests.conftest import INTEROP

    sample = INTEROP / "ofd" / "SESV4SignDoc.ofd"
    if sample.exists():
        unknown_roots = run("verify", str(sample), "--json", data_dir=data, check=False)
        assert unknown_roots.returncode == 1 and '"INDETERMINATE"' in unknown_roots.stdout


def root_certificate_pem(data: Path) -> bytes:
    """The SM2 root certificate as PEM, read from the data folder's database."""
    from asn1crypto import pem

    with sqlite3.connect(data / "longtrust.db") as conn:
        der = conn.execute("SELECT certificate_der FROM cas WHERE id = 'sm2-root'").fetchone()[0]
    return pem.armor("CERTIFICATE", der)


def test_audit_checkpoints_reveal_a_cut_off_log(tmp_path, monkeypatch):
    monkeypatch.setenv("LONGTRUST_CEREMONY_FILE", str(Path(__file__).parents[1] / "ceremony-test.yaml"))
    data = tmp_path / "data"
    run("init", data_dir=data)
    run("token", "create", "--role", "auditor", "--name", "a", data_dir=data)
    assert "checkpoint written" in run("audit", "checkpoint", data_dir=data).stdout
    assert "no new events" in run("audit", "checkpoint", data_dir=data).stdout
    assert "intact" in run("audit", "verify", data_dir=data).stdout
    with sqlite3.connect(data / "longtrust.db") as conn:
        # the newest event and its leaf
        last, event_id = conn.execute(
            "SELECT idx + 1, event_id FROM audit_tree WHERE level = 0 ORDER BY idx DESC LIMIT 1"
        ).fetchone()
        conn.execute("DELETE FROM audit_events WHERE id = ?", (event_id,))
        conn.execute("DELETE FROM audit_tree WHERE level = 0 AND idx = ?", (last - 1,))
    cut = run("audit", "verify", data_dir=data, check=False)
    assert cut.returncode == 1 and f"event {last}:" in cut.stderr and "cut off" in cut.stderr
