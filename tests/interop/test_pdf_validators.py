"""Stamped PDFs checked by independent validators: pyHanko's CLI and poppler's pdfsig (NSS).

Both tools exit 0 on some failures, so the tests assert on the printed text.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.seal_service.test_pdf import make_pdf, make_pki, stamp_rsa

pytestmark = [pytest.mark.interop, pytest.mark.slow]

HAS_PYHANKO_CLI = importlib.util.find_spec("pyhanko.cli") is not None
HAS_NSS_TOOLS = bool(shutil.which("pdfsig") and shutil.which("certutil"))
needs_cli = pytest.mark.skipif(
    not HAS_PYHANKO_CLI, reason="pyhanko-cli is not installed (pip install pyhanko-cli)"
)
needs_pdfsig = pytest.mark.skipif(
    not HAS_NSS_TOOLS, reason="pdfsig/certutil missing (apt-get install poppler-utils libnss3-tools)"
)


def _root_pem(tmp_path: Path) -> Path:
    path = tmp_path / "root.pem"
    path.write_bytes(make_pki().root.public_bytes(serialization.Encoding.PEM))
    return path


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pyhanko_validate(tmp_path: Path, pdf: bytes, command: str = "validate") -> subprocess.CompletedProcess:
    path = _write(tmp_path, "stamped.pdf", pdf)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pyhanko",
            "sign",
            command,
            "--trust",
            str(_root_pem(tmp_path)),
            "--trust-replace",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def pdfsig(tmp_path: Path, pdf: bytes, root_pem: Path | None = None) -> str:
    """pdfsig output, with only the test root (or ``root_pem``) trusted in a fresh NSS database."""
    nss = tmp_path / "nss"
    nss.mkdir(exist_ok=True)
    db = f"sql:{nss}"
    subprocess.run(["certutil", "-N", "--empty-password", "-d", db], check=True, capture_output=True)
    root = str(root_pem or _root_pem(tmp_path))
    subprocess.run(
        ["certutil", "-A", "-n", "root", "-t", "CT,C,C", "-i", root, "-d", db],
        check=True,
        capture_output=True,
    )
    path = _write(tmp_path, "stamped.pdf", pdf)
    run = subprocess.run(["pdfsig", "-nssdir", db, str(path)], capture_output=True, text=True, timeout=120)
    return run.stdout


def _per_signature(output: str) -> list[str]:
    return re.split(r"^Signature #\d+:$", output, flags=re.MULTILINE)[1:]


# --------------------------------------------------------------------------- pyHanko CLI


@needs_cli
def test_pyhanko_cli_bb_is_intact_and_trusted(tmp_path):
    run = pyhanko_validate(tmp_path, stamp_rsa(make_pdf()))
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(r"Seal1:[0-9a-f]{64}:INTACT:TRUSTED,UNTOUCHED\n", run.stdout), run.stdout


@needs_cli
def test_pyhanko_cli_two_stamps(tmp_path):
    run = pyhanko_validate(tmp_path, stamp_rsa(stamp_rsa(make_pdf()), x=300, y=300))
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    assert first.endswith(":INTACT:TRUSTED,EXTENDED_WITH_FORM_FILLING,ACCEPTABLE_MODIFICATIONS")
    assert second.startswith("Seal2:") and second.endswith(":INTACT:TRUSTED,UNTOUCHED")


@needs_cli
def test_pyhanko_cli_bt_time_stamp_is_trusted(tmp_path):
    pki = make_pki()
    run = pyhanko_validate(tmp_path, stamp_rsa(make_pdf(), level="B-T", timestamper=pki.timestamper()))
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip().endswith(":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>,UNTOUCHED")


@needs_cli
def test_pyhanko_cli_adesverify_blta(tmp_path):
    pki = make_pki()
    pdf = stamp_rsa(
        make_pdf(), level="B-LTA", timestamper=pki.timestamper(), validation_context=pki.validation_context()
    )
    run = pyhanko_validate(tmp_path, pdf, command="adesverify")
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip().endswith(
        ":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>,EXTENDED_WITH_LTA_UPDATES,ACCEPTABLE_MODIFICATIONS"
    )


@needs_cli
def test_pyhanko_cli_rejects_a_changed_byte(tmp_path):
    pdf = bytearray(stamp_rsa(make_pdf()))
    pdf[pdf.index(b"(Page 1)") + 1] = ord("Q")
    run = pyhanko_validate(tmp_path, bytes(pdf))
    assert run.returncode != 0
    assert run.stdout.rstrip().endswith(":INVALID")


# --------------------------------------------------------------------------- poppler pdfsig (NSS)


@needs_pdfsig
def test_pdfsig_bb_is_valid_and_trusted(tmp_path):
    out = pdfsig(tmp_path, stamp_rsa(make_pdf()))
    [sig] = _per_signature(out)
    assert "Signature Type: ETSI.CAdES.detached" in sig
    assert "Total document signed" in sig
    assert "Signature is Valid." in sig
    assert "Certificate is Trusted." in sig


@needs_pdfsig
def test_pdfsig_bt_is_valid_and_trusted(tmp_path):
    pki = make_pki()
    out = pdfsig(tmp_path, stamp_rsa(make_pdf(), level="B-T", timestamper=pki.timestamper()))
    [sig] = _per_signature(out)
    assert "Signature is Valid." in sig and "Certificate is Trusted." in sig


@needs_pdfsig
def test_pdfsig_two_seals_both_valid_and_trusted(tmp_path):
    pki = make_pki()
    once = stamp_rsa(make_pdf())
    twice = stamp_rsa(once, signer=pki.signer2, cert_der=pki.der(pki.signer2_cert), x=300, y=300)
    sigs = _per_signature(pdfsig(tmp_path, twice))
    assert len(sigs) == 2
    for sig in sigs:
        assert "Signature is Valid." in sig
        assert "Certificate is Trusted." in sig
    assert "Not total document signed" in sigs[0] and "Total document signed" in sigs[1]


@needs_pdfsig
def test_pdfsig_same_seal_twice_both_signatures_valid(tmp_path):
    # poppler 22.12 reports "Unknown issue with Certificate or corrupted data." for the second of two
    # signatures carrying the same certificates (the same happens with plain pyHanko signatures), so
    # only the cryptographic verdict is asserted for the second one.
    once = stamp_rsa(make_pdf())
    sigs = _per_signature(pdfsig(tmp_path, stamp_rsa(once, x=300, y=300)))
    assert len(sigs) == 2
    assert all("Signature is Valid." in sig for sig in sigs)
    assert "Certificate is Trusted." in sigs[0]


@needs_pdfsig
def test_pdfsig_reports_a_changed_byte(tmp_path):
    pdf = bytearray(stamp_rsa(make_pdf()))
    pdf[pdf.index(b"(Page 1)") + 1] = ord("Q")
    [sig] = _per_signature(pdfsig(tmp_path, bytes(pdf)))
    assert "Digest Mismatch." in sig
    assert "Signature is Valid." not in sig


def _long_term(level: str) -> bytes:
    pki = make_pki()
    return stamp_rsa(
        make_pdf(), level=level, timestamper=pki.timestamper(), validation_context=pki.validation_context()
    )


@needs_cli
def test_pyhanko_cli_blt_is_intact_and_trusted(tmp_path):
    run = pyhanko_validate(tmp_path, _long_term("B-LT"))
    assert run.returncode == 0, run.stderr
    assert ":INTACT:TRUSTED,TIMESTAMP_TOKEN<INTACT:TRUSTED>" in run.stdout, run.stdout


@needs_pdfsig
@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_pdfsig_long_term_levels_are_valid_and_trusted(tmp_path, level):
    # The seal's PAdES signature is the first; pdfsig cannot validate the B-LTA document time stamp
    # itself ("Unimplemented"), which pyHanko's adesverify covers above.
    sig = _per_signature(pdfsig(tmp_path, _long_term(level)))[0]
    assert "Signature Type: ETSI.CAdES.detached" in sig
    assert "Signature is Valid." in sig and "Certificate is Trusted." in sig
