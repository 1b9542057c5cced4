"""Time build_crl for 1,000,000 revoked entries with an RSA-2048 and an SM2 issuer.

Run from the project root: ``.venv/bin/python bench/bench_crl.py [entries]``. Prints the
seconds spent in build_crl (encoding + signing) per algorithm; generating the input list
is not timed.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    revoked = entries(count)
    now = datetime.now(UTC).replace(microsecond=0)
    for family in ("rsa", "sm2"):
        ca = pki(family).ca
        started = time.perf_counter()
        der = build_crl(ca.cert, ca.signer, revoked, 42, now, now + timedelta(days=1))
        elapsed = time.perf_counter() - started
        label = "RSA-2048" if family == "rsa" else "SM2"
        print(f"{label}: {count} entries, {len(der) / 1e6:.1f} MB, {elapsed:.2f} s")


if __name__ == "__main__":
    main()
