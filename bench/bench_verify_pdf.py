"""In-process PDF verification rate: verify.pdf.verify_pdf against a raw pyHanko validate_pdf_signature.

Run from the project root: ``.venv/bin/python bench/bench_verify_pdf.py [rounds]``.
Documents: a one-page PDF stamped PAdES B-B with RSA-2048 (chain root -> issuing CA -> seal) carrying a
GB/T 38540 seal as unsigned attribute, the same without the seal, and one stamped with a self-signed SM2
certificate. Each call starts from the bytes (open, find signatures, validate), one thread.
Baseline: ``PdfFileReader`` + ``validate_pdf_signature`` with a fresh ValidationContext (same trust
anchors, SM2-aware validator) on the same file: pyHanko's own work without our report, DSS, time
stamp, limits and seal checks. The HTTP target is >= 100 verifications/s. Numbers are CPU time
per call on one core (rate = 1 / that).
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

# The project root replaces this script's folder on the path, so bench/ modules never shadow the stdlib.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from asn1crypto import x509  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.validation import validate_pdf_signature  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402

from seal_service.pdf import stamp_pdf  # noqa: E402
from seal_service.ses import build_seal  # noqa: E402
from tests.seal_service.test_pdf import make_pdf, make_pki, make_png, make_sm2, stamp_rsa  # noqa: E402
from verify.pdf import verify_pdf  # noqa: E402
from verify.sm2_validation import SM2_CONTEXT_KWARGS  # noqa: E402

SEAL_OID = "2.25.205704455834958305441458399337302593871"


def per_call(fn, rounds: int) -> float:
    """Median CPU seconds per call over ``rounds`` calls, after a short warm-up.

    CPU time of this process (not wall time), so other load on the machine does not skew the numbers.
    """
    for _ in range(3):
        fn()
    times = []
    for _ in range(rounds):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return statistics.median(times)


def raw_pyhanko(data: bytes, anchors: list[bytes]):
    roots = [x509.Certificate.load(a) for a in anchors]

    def run():
        [sig] = PdfFileReader(BytesIO(data)).embedded_signatures
        context = ValidationContext(trust_roots=roots, allow_fetching=False, **SM2_CONTEXT_KWARGS)
        status = validate_pdf_signature(sig, signer_validation_context=context)
        assert status.bottom_line

    return run


def ours(data: bytes, anchors: list[bytes]):
    def run():
        report = verify_pdf(data, trust_anchors=anchors, seal_attribute_oid=SEAL_OID)
        assert report.indication == "TOTAL_PASSED", report.to_text()

    return run


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    pki = make_pki()
    now = datetime.now(UTC)
    seal = build_seal(
        es_id="3501000000001",
        seal_type=1,
        name="Bench Seal",
        signer_cert_der=pki.der(pki.signer_cert),
        created=now - timedelta(days=2),
        valid_from=now - timedelta(days=1),
        valid_to=now + timedelta(days=300),
        image_png=make_png(),
        width_mm=40,
        height_mm=40,
        maker=pki.signer2,
        maker_cert_der=pki.der(pki.signer2_cert),
    )
    rsa_anchors = [pki.der(pki.root)]
    sm2_signer, sm2_cert = make_sm2()
    documents = {
        "RSA-2048 B-B + seal": (
            stamp_rsa(make_pdf(), seal_der=seal, seal_attribute_oid=SEAL_OID),
            rsa_anchors,
        ),
        "RSA-2048 B-B       ": (stamp_rsa(make_pdf()), rsa_anchors),
        "SM2 B-B            ": (
            stamp_pdf(
                make_pdf(),
                signer=sm2_signer,
                cert_der=sm2_cert,
                chain_der=[],
                image_png=make_png(),
                width_mm=40,
                height_mm=40,
                page=0,
                x=100,
                y=100,
            ),
            [sm2_cert],
        ),
    }
    for name, (data, anchors) in documents.items():
        t_ours = per_call(ours(data, anchors), rounds)
        t_raw = per_call(raw_pyhanko(data, anchors), rounds)
        print(
            f"{name} ({len(data)} B): verify_pdf {t_ours * 1000:6.2f} ms = {1 / t_ours:6.0f}/s; "
            f"raw pyHanko {t_raw * 1000:6.2f} ms = {1 / t_raw:6.0f}/s; ratio {t_ours / t_raw:.2f}x"
        )


if __name__ == "__main__":
    main()
