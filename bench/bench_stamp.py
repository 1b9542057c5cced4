"""In-process PDF stamping time: seal_service.pdf against a raw pyHanko sign_pdf.

Run from the project root: ``.venv/bin/python bench/bench_stamp.py [rounds]``.
Both sides sign the same one-page PDF with an RSA-2048 key loaded once:
- ours: ``stamp_pdf`` (PAdES B-B, visible PNG seal, cached adapter and image, no dry run);
- baseline: ``signers.sign_pdf`` with a ``SimpleSigner`` built once (pyHanko defaults: invisible
  field, adbe.pkcs7.detached, size estimated with a dry-run signature). Stock ``SimpleSigner``
  re-parses its PKCS#8 key on every raw signature (twice per PDF), so a second baseline keeps the
  parsed key and isolates pyHanko's own PDF pipeline.
Prints ms per stamp, the ratios (target <= 1.3x) and SM2 stamps per second.
"""

from __future__ import annotations

import statistics
import sys
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asn1crypto import keys as asn1_keys  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import signers  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402
from pyhanko_certvalidator.util import get_pyca_cryptography_hash  # noqa: E402

from seal_service.pdf import stamp_pdf  # noqa: E402
from tests.seal_service.test_pdf import make_pdf, make_pki, make_png, make_sm2  # noqa: E402


class ParsedKeySimpleSigner(signers.SimpleSigner):
    """SimpleSigner that keeps the parsed RSA key instead of loading it per signature."""

    def __init__(self, *args, private_key, **kwargs):
        super().__init__(*args, **kwargs)
        self._private_key = private_key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        return self._private_key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))


def per_call(fn, rounds: int) -> float:
    """Median seconds per call over ``rounds`` calls, after a short warm-up."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    pdf, png, pki = make_pdf(), make_png(120, 120), make_pki()
    cert_der, chain_der = pki.der(pki.signer_cert), pki.chain_der

    def ours():
        return stamp_pdf(
            pdf,
            signer=pki.signer,
            cert_der=cert_der,
            chain_der=chain_der,
            image_png=png,
            width_mm=40,
            height_mm=40,
            page=0,
            x=100,
            y=100,
            level="B-B",
        )

    key = asn1_keys.PrivateKeyInfo.load(
        pki.signer._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    args = {
        "signing_cert": pki.asn1(pki.signer_cert),
        "signing_key": key,
        "cert_registry": SimpleCertificateStore.from_certs([pki.asn1(pki.issuing), pki.asn1(pki.root)]),
    }
    simple = signers.SimpleSigner(**args)
    parsed = ParsedKeySimpleSigner(**args, private_key=pki.signer._key)
    meta = signers.PdfSignatureMetadata(field_name="Sig1")

    def baseline(signer):
        def run():
            return signers.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), meta, signer=signer).getvalue()

        return run

    t_simple = per_call(baseline(simple), rounds)
    t_parsed = per_call(baseline(parsed), rounds)
    t_ours = per_call(ours, rounds)
    print(f"raw pyHanko sign_pdf, stock SimpleSigner (RSA-2048):     {t_simple * 1000:7.2f} ms/stamp")
    print(f"raw pyHanko sign_pdf, SimpleSigner with parsed key:      {t_parsed * 1000:7.2f} ms/stamp")
    print(f"seal_service.pdf stamp_pdf (RSA-2048, B-B, visible seal): {t_ours * 1000:7.2f} ms/stamp")
    print(
        f"ratio ours / stock SimpleSigner: {t_ours / t_simple:.2f}x; "
        f"ours / parsed-key SimpleSigner: {t_ours / t_parsed:.2f}x (target <= 1.3x)"
    )

    sm2_signer, sm2_cert = make_sm2()

    def sm2():
        return stamp_pdf(
            pdf,
            signer=sm2_signer,
            cert_der=sm2_cert,
            chain_der=[],
            image_png=png,
            width_mm=40,
            height_mm=40,
            page=0,
            x=100,
            y=100,
            level="B-B",
        )

    t_sm2 = per_call(sm2, rounds)
    print(
        f"seal_service.pdf stamp_pdf (SM2, B-B, visible seal):      {t_sm2 * 1000:7.2f} ms/stamp, "
        f"{1 / t_sm2:.0f} stamps/s (one thread)"
    )


if __name__ == "__main__":
    main()
