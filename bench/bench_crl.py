"""Time build_crl for 1,000,000 revoked entries with an RSA-2048 and an SM2 issuer, against
`openssl ca -gencrl` making the CRL of the same entries with the same key and certificate.

Run from the project root: ``.venv/bin/python bench/bench_crl.py [entries]``. Prints the seconds
spent in build_crl (encoding + signing) per algorithm, the seconds of `openssl ca -gencrl` (one
process, reading its index.txt of the same revoked serials, times and reasons, writing PEM) and the
ratio openssl ÷ ours. Generating the inputs is not timed. Target: 1 M entries in <= 2 s.
"""

from __future__ import annotations

import base64
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives import serialization  # noqa: E402

from ca.crl import build_crl  # noqa: E402
from tests.ca.pki import pki  # noqa: E402

REASONS = [None, "keyCompromise", "superseded", "cessationOfOperation", "affiliationChanged", "unspecified"]


def entries(count: int, seed: int = 1) -> list:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [
        (
            (1 << 151) | rng.getrandbits(150),
            start + timedelta(seconds=rng.randrange(60_000_000)),
            rng.choice(REASONS),
        )
        for _ in range(count)
    ]


OPENSSL_CONF = """[ca]
default_ca = ca_default
[ca_default]
database = {tmp}/index.txt
crlnumber = {tmp}/crlnumber
certificate = {tmp}/ca.pem
private_key = {tmp}/key.pem
default_md = {md}
default_crl_days = 1
"""


def _key_pem(signer) -> bytes:
    key = signer._key
    if hasattr(key, "to_pkcs8"):  # SM2
        der = key.to_pkcs8()
        return b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END PRIVATE KEY-----\n"
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def openssl_gencrl(ca, revoked: list, family: str) -> float:
    """Seconds of `openssl ca -gencrl` over an index.txt holding ``revoked``."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "ca.pem").write_bytes(ca.pem)
        (folder / "key.pem").write_bytes(_key_pem(ca.signer))
        (folder / "crlnumber").write_text("2A\n")
        with (folder / "index.txt").open("w") as index:
            for serial, at, reason in revoked:
                when = at.strftime("%y%m%d%H%M%SZ") + (f",{reason}" if reason else "")
                index.write(f"R\t351231235959Z\t{when}\t{serial:X}\tunknown\t/CN=x\n")
        conf = folder / "ca.cnf"
        conf.write_text(OPENSSL_CONF.format(tmp=tmp, md="sm3" if family == "sm2" else "sha256"))
        started = time.perf_counter()
        subprocess.run(
            ["openssl", "ca", "-batch", "-config", str(conf), "-gencrl", "-out", str(folder / "crl.pem")],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    revoked = entries(count)
    now = datetime.now(UTC).replace(microsecond=0)
    for family in ("rsa", "sm2"):
        ca = pki(family).ca
        started = time.perf_counter()
        der = build_crl(ca.cert, ca.signer, revoked, 42, now, now + timedelta(days=1))
        elapsed = time.perf_counter() - started
        baseline = openssl_gencrl(ca, revoked, family)
        label = "RSA-2048" if family == "rsa" else "SM2"
        verdict = "ok" if elapsed <= 2 else "ABOVE 2 s"
        print(
            f"CRL {label:<8}: {count} entries, {len(der) / 1e6:.1f} MB, build_crl {elapsed:.2f} s {verdict}  "
            f"baseline openssl ca -gencrl {baseline:.2f} s   openssl ÷ ours {baseline / elapsed:.1f}x"
        )


if __name__ == "__main__":
    main()
