"""In-process PDF stamping time: seal_service.pdf.SealStamper against raw pyHanko doing the same work.

Run from the project root: ``.venv/bin/python bench/bench_stamp.py [rounds]``.
Both sides sign the same one-page PDF, RSA-2048 and then SM2, with the key loaded once, producing a
PAdES B-B signature (ETSI.CAdES.detached) in a new visible 40 x 40 mm field on page 1 showing the same
PNG, with the same /Contents space reserved (no dry-run signature on either side):
- ours: ``SealStamper.stamp`` (the service's per-seal stamper: checks; adapter and image prepared once);
- baseline: ``PdfSigner.sign_pdf`` with a bare pyHanko ``Signer`` whose raw signature is the same
  ``keys.Signer`` call, and pyHanko's own ``StaticStampStyle``/``PdfImage`` of the decoded PNG.
Variants are interleaved; prints ms per stamp and ours ÷ baseline time (target <= 1.3x).
"""

from __future__ import annotations

import statistics
import sys
import time
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asn1crypto import x509  # noqa: E402
from PIL import Image  # noqa: E402
from pyhanko.pdf_utils import layout  # noqa: E402
from pyhanko.pdf_utils.images import PdfImage  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.stamp import StaticStampStyle  # noqa: E402
from pyhanko_certvalidator.registry import SimpleCertificateStore  # noqa: E402

from seal_service.pades import PadesLevel, PdfStampSpec  # noqa: E402
from seal_service.pdf import SealStamper  # noqa: E402
from tests.seal_service.test_pdf import make_pdf, make_pki, make_png, make_sm2  # noqa: E402


class BareSigner(signers.Signer):
    """pyHanko signer whose raw signature is one ``keys.Signer.sign`` call, nothing else."""

    def __init__(self, signer, cert_der: bytes, chain_der: list[bytes]):
        super().__init__(
            signature_mechanism=signer.algorithm_identifier(),
            signing_cert=x509.Certificate.load(cert_der),
            cert_registry=SimpleCertificateStore.from_certs([x509.Certificate.load(c) for c in chain_der]),
        )
        self.keys_signer = signer

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        return self.keys_signer.sign(data)


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


def cases(signer, cert_der: bytes, chain_der: list[bytes], pdf: bytes, png: bytes):
    """(ours, baseline) callables stamping ``pdf`` with the same key, field, image and reserve."""
    size = 40 * 72 / 25.4
    box = (100, 100, 100 + size, 100 + size)
    kwargs = dict(image_png=png, width_mm=40, height_mm=40)
    spec = PdfStampSpec(page=0, x=100, y=100, level=PadesLevel.B_B)

    stamper = SealStamper(signer, cert_der, chain_der, **kwargs)

    def ours():
        return stamper.stamp(pdf, spec)

    reserve = 2 * stamper.pyhanko_signer.cms_size_estimate
    bare = BareSigner(signer, cert_der, chain_der)
    image = Image.open(BytesIO(png))
    image.load()
    meta = signers.PdfSignatureMetadata(
        field_name="Sig1", md_algorithm=signer.digest_algorithm, subfilter=fields.SigSeedSubFilter.PADES
    )

    def baseline():
        style = StaticStampStyle(
            background=PdfImage(image, box=layout.BoxConstraints(width=size, height=size)), border_width=0
        )
        pdf_signer = signers.PdfSigner(
            meta, bare, stamp_style=style, new_field_spec=fields.SigFieldSpec("Sig1", on_page=0, box=box)
        )
        return pdf_signer.sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), bytes_reserved=reserve).getvalue()

    return ours, baseline


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    pdf, png, pki = make_pdf(), make_png(120, 120), make_pki()
    sm2_signer, sm2_cert = make_sm2()
    keys = {
        "RSA-2048": (pki.signer, pki.der(pki.signer_cert), pki.chain_der),
        "SM2": (sm2_signer, sm2_cert, []),
    }
    for name, (signer, cert_der, chain_der) in keys.items():
        ours, baseline = cases(signer, cert_der, chain_der, pdf, png)
        times = {"ours": [], "baseline": []}
        for _ in range(2):  # interleaved halves
            times["baseline"].append(per_call(baseline, rounds // 2))
            times["ours"].append(per_call(ours, rounds // 2))
        t_ours, t_base = statistics.mean(times["ours"]), statistics.mean(times["baseline"])
        verdict = "ok" if t_ours / t_base <= 1.3 else "ABOVE 1.3x"
        print(
            f"PDF stamp B-B visible {name:<8}: SealStamper {t_ours * 1000:6.2f} ms ({1 / t_ours:5.0f}/s)   "
            f"baseline raw pyHanko, same reserve {t_base * 1000:6.2f} ms ({1 / t_base:5.0f}/s)   "
            f"time ratio {t_ours / t_base:.2f}x {verdict}"
        )


if __name__ == "__main__":
    main()
