"""Signing and verification through keys.Signer against `openssl speed`, measured in the same run.

Run: `.venv/bin/python -m bench.bench_signers`. Target: SM2 signing >= 90% of `openssl speed sm2`.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from bench.harness import Result, openssl_speed, rate, report
from keys import sm2
from keys.signer import CryptographySigner, SM2Signer

ROUNDS = 3
MESSAGE = b"LongTrust benchmark message: a TBSCertificate is about this long." * 8


def main() -> None:
    sm2_signer = SM2Signer("bench", sm2.SM2PrivateKey.generate())
    sm2_sig = sm2_signer.sign(MESSAGE)
    point = sm2_signer.public_key_info()["public_key"].native
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_signer = CryptographySigner("bench", rsa_key)
    rsa_sig = rsa_signer.sign(MESSAGE)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_signer = CryptographySigner("bench", ec_key)
    ec_sig = ec_signer.sign(MESSAGE)

    cases = [
        (
            "sm2",
            "SM2 sign (keys.Signer)",
            lambda: sm2_signer.sign(MESSAGE),
            "SM2 verify (keys.sm2.verify)",
            lambda: sm2.verify(point, MESSAGE, sm2_sig),
            0.90,
        ),
        (
            "rsa2048",
            "RSA-2048 sign (keys.Signer)",
            lambda: rsa_signer.sign(MESSAGE),
            "RSA-2048 verify (cryptography)",
            lambda: rsa_key.public_key().verify(rsa_sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256()),
            None,
        ),
        (
            "ecdsap256",
            "P-256 sign (keys.Signer)",
            lambda: ec_signer.sign(MESSAGE),
            "P-256 verify (cryptography)",
            lambda: ec_key.public_key().verify(ec_sig, MESSAGE, ec.ECDSA(hashes.SHA256())),
            None,
        ),
    ]
    for algorithm, sign_name, sign_op, verify_name, verify_op, target in cases:
        # Alternate baseline and ours and keep the best of each: a busy machine slows both alike.
        runs = [
            (openssl_speed(algorithm), rate(sign_name, sign_op), rate(verify_name, verify_op))
            for _ in range(ROUNDS)
        ]
        base_sign = max(r[0][0] for r in runs)
        base_verify = max(r[0][1] for r in runs)
        ours_sign = max((r[1] for r in runs), key=lambda r: r.per_second)
        ours_verify = max((r[2] for r in runs), key=lambda r: r.per_second)
        print(report(ours_sign, Result(f"openssl speed {algorithm}", base_sign), target))
        print(report(ours_verify, Result(f"openssl speed {algorithm}", base_verify)))


if __name__ == "__main__":
    main()
