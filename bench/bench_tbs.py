"""Time TBSCertificate building: TbsTemplate (pre-encoded constant DER) against plain asn1crypto.

Run from the project root: ``.venv/bin/python bench/bench_tbs.py [rounds]``. Builds an
organization-signing TBS (SM2 subject key, credit code) under an SM2 issuing CA and prints µs per
TBS for both ways and their ratio, then the whole certificate (build, lint, SM2 signing, read-back
check) with each way of building.
Subject and key come parsed from DER, as they do from a CSR.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asn1crypto import keys, x509  # noqa: E402

from ca.builder import Issuer, TbsTemplate, build_tbs, check_signed, random_serial, sign_tbs  # noqa: E402
from ca.lint import lint_tbs  # noqa: E402
from keys.signer import SM2Signer  # noqa: E402
from keys.sm2 import SM2PrivateKey  # noqa: E402
from policies.profiles import load_profiles  # noqa: E402

URL = "http://127.0.0.1:8400"
CODE = "91440300708461136T"


def name(organization: str) -> x509.Name:
    fields = {"country_name": "CN", "organization_name": organization, "common_name": organization}
    return x509.Name.build(fields)


def per_call_us(fn, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    profiles = load_profiles()
    now = datetime.now(UTC).replace(microsecond=0)
    ca_signer = SM2Signer("bench-ca", SM2PrivateKey.generate())
    ca_name = name("LongTrust Bench CA")  # a self-signed CA suffices to issue from
    root = Issuer.self_signed("bench-ca", ca_name, ca_signer.public_key_info())
    ca_spki = ca_signer.public_key_info()
    ca_tbs = build_tbs(
        profiles["root-ca"],
        root,
        serial=random_serial(),
        not_before=now,
        not_after=now + timedelta(days=3650),
        subject=ca_name,
        spki=ca_spki,
        public_url=URL,
    )
    ca_cert = x509.Certificate.load(sign_tbs(ca_tbs, ca_signer))
    issuer = Issuer.from_certificate("bench-ca", ca_cert)
    profile = profiles["organization-signing"]
    subject = x509.Name.load(name("某市人民政府").dump())
    spki = keys.PublicKeyInfo.load(SM2PrivateKey.generate().public_key_info().dump())
    _ = subject.native, spki.native
    args = dict(
        not_before=now,
        not_after=now + timedelta(days=365),
        subject=subject,
        spki=spki,
        credit_code=CODE,
    )

    template = TbsTemplate(profile, issuer, URL)
    serial = random_serial()
    tbs = template.build(serial=serial, **args)
    assert tbs == build_tbs(profile, issuer, serial=serial, public_url=URL, **args), "template != plain build"
    assert lint_tbs(tbs, ca_cert, profile) == []

    templated = per_call_us(lambda: template.build(serial=random_serial(), **args), rounds)
    plain = per_call_us(
        lambda: build_tbs(profile, issuer, serial=random_serial(), public_url=URL, **args),
        max(rounds // 10, 50),
    )
    lint = per_call_us(lambda: lint_tbs(tbs, ca_cert, profile), max(rounds // 10, 50))
    cert = sign_tbs(tbs, ca_signer)
    sign = per_call_us(lambda: sign_tbs(tbs, ca_signer), max(rounds // 10, 50))
    check = per_call_us(lambda: check_signed(cert, tbs, ca_cert.public_key), max(rounds // 10, 50))
    total, plain_total = templated + lint + sign + check, plain + lint + sign + check
    print(
        f"TBS templated {templated:8.1f} µs   baseline plain asn1crypto {plain:8.1f} µs   "
        f"ratio {plain / templated:.1f}x faster"
    )
    print(
        f"build+lint+sign+check (SM2) templated {total:8.0f} µs "
        f"= {1e6 / total:5.0f} certificates/s per core   "
        f"baseline with the plain build {plain_total:8.0f} µs = {1e6 / plain_total:5.0f}/s   "
        f"ratio {plain_total / total:.2f}x   "
        f"(lint {lint:.0f} µs, sign {sign:.0f} µs, check {check:.0f} µs; no HTTP, no DB)"
    )


if __name__ == "__main__":
    main()
