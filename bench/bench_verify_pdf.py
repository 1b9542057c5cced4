"""PDF verification speed on fresh documents: in process against pyHanko's validator, 10 signatures
against 1, and over HTTP (`longtrust serve --workers 2`) against poppler's `pdfsig` in 2 processes.

Run from the project root: ``.venv/bin/python -m bench.bench_verify_pdf [--documents N]`` (N = 80 in
process, 4N over HTTP).
Every timed verification is of a document not verified before in that process (each stamped anew, so
its bytes differ), so no cached result of the same document counts. The two sides of each comparison
take turns in rounds (below), whose ratios are printed as their median and range, so a shared
machine's load weighs on both alike.
- In process, one thread, CPU time: ``verify_pdf`` (our report: chain to the trust anchor, integrity,
  change analysis, limits) against the baseline ``PdfFileReader`` + ``validate_pdf_signature`` for every
  signature with a ``ValidationContext`` built per file (same anchor, SM2-aware), on files made the
  same way: one-signature files (RSA-2048 B-B, chain root -> issuing -> seal) and ten-signature files.
  In each of N/8 rounds every side verifies one ten-signature file and then N/rounds one-signature
  files; the ratios (speed against pyHanko, 10 signatures ÷ 1) are taken per round, printed as their
  median and range.
- Over HTTP, in 8 rounds: N documents stamped by the server's own RSA seal are each POSTed once to
  /api/v1/verify/pdf (8 in flight, must be TOTAL_PASSED); the baseline runs `pdfsig` on as many other
  documents stamped the same way, split between 2 processes (it checks every signature and the
  certificate, against its own NSS store).
Bars from the issue: in process >= 1.0x pyHanko; HTTP >= 0.8x pdfsig; 10 signatures <= 4x one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

import httpx
from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from bench.bench_mixed import _post, _token
from bench.live_server import ratio_line, serve
from tests.seal_service.test_pdf import make_pdf, make_pki, make_png, stamp_rsa
from verify.pdf import verify_pdf
from verify.sm2_validation import SM2_CONTEXT_KWARGS

ISSUER = "11100000000013338W"


def cpu_ms(fn, document: bytes) -> float:
    """CPU milliseconds of ``fn(document)``."""
    started = time.process_time()
    fn(document)
    return (time.process_time() - started) * 1000


def in_rounds(sides: dict, ten: list[list[bytes]], one: list[list[bytes]]) -> dict:
    """{(side, signatures): [the median CPU ms of each round]}. A round verifies, on every side in
    turn, one ten-signature document and then its share of one-signature documents, each side its
    own documents; so 1 and 10 signatures, ours and the baseline, are measured within seconds of
    each other and a shared machine's drift weighs on every figure of a round alike."""
    rounds = {(side, n): [] for side in sides for n in (1, 10)}
    share = len(one[0]) // len(ten[0])
    for index in range(len(ten[0])):
        for position, (side, fn) in enumerate(sides.items()):
            rounds[side, 10].append(cpu_ms(fn, ten[position][index]))
            times = [cpu_ms(fn, d) for d in one[position][index * share : (index + 1) * share]]
            rounds[side, 1].append(statistics.median(times))
    return rounds


def in_process(count: int) -> None:
    pki = make_pki()
    anchors = [pki.der(pki.root)]
    roots = [x509.Certificate.load(a) for a in anchors]

    def ours(document: bytes) -> None:
        report = verify_pdf(document, trust_anchors=anchors)
        assert report.indication == "TOTAL_PASSED", report.to_text()

    def pyhanko(document: bytes) -> None:
        context = ValidationContext(trust_roots=roots, allow_fetching=False, **SM2_CONTEXT_KWARGS)
        for signature in PdfFileReader(BytesIO(document)).embedded_signatures:
            assert validate_pdf_signature(signature, signer_validation_context=context).bottom_line

    def stamped(signatures: int) -> bytes:
        document = make_pdf()
        for _ in range(signatures):
            document = stamp_rsa(document)
        return document

    ours(stamped(1))  # warm-up: imports and first-use set-up on both sides
    pyhanko(stamped(1))
    rounds = max(3, count // 8)
    sides = {"verify_pdf": ours, "pyHanko validator": pyhanko}
    ten = [[stamped(10) for _ in range(rounds)] for _ in sides]
    one = [[stamped(1) for _ in range(count)] for _ in sides]
    times = in_rounds(sides, ten, one)
    for signatures in (1, 10):
        t_ours, t_base = (times[side, signatures] for side in sides)
        ratios = [b / o for o, b in zip(t_ours, t_base, strict=True)]
        ratio = statistics.median(ratios)
        print(
            f"in process, {signatures:>2} signature(s): verify_pdf {statistics.median(t_ours):6.1f} ms   "
            f"baseline pyHanko validator {statistics.median(t_base):6.1f} ms   speed ratio {ratio:4.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f}) {'ok' if ratio >= 1.0 else 'BELOW 1.0'}"
        )
    growth = {side: [t / u for t, u in zip(times[side, 10], times[side, 1], strict=True)] for side in sides}
    mine, base = (statistics.median(growth[side]) for side in sides)
    print(
        f"10 signatures ÷ 1: verify_pdf {mine:4.1f}x ({min(growth['verify_pdf']):.1f}-"
        f"{max(growth['verify_pdf']):.1f}) {'ok' if mine <= 4 else 'ABOVE 4'}   baseline pyHanko {base:4.1f}x"
        f"  ({rounds} rounds, each: one 10-signature and {count // rounds} 1-signature documents a side)"
    )


async def _post_all(base: str, documents: list[bytes], in_flight: int = 8) -> float:
    """Seconds to verify every document once over HTTP; each must be TOTAL_PASSED."""
    queue = list(documents)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:

        async def worker() -> None:
            while queue:
                r = await client.post(
                    "/api/v1/verify/pdf", content=queue.pop(), headers={"Content-Type": "application/pdf"}
                )
                if r.status_code != 200 or r.json()["indication"] != "TOTAL_PASSED":
                    raise SystemExit(f"verification did not pass: {r.status_code} {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(in_flight)))
        return time.perf_counter() - started


def pdfsig_seconds(files: list[Path], processes: int = 2) -> float:
    """Seconds for `pdfsig` to check every file, the files split between ``processes`` workers."""

    def run(share: list[Path]) -> None:
        for path in share:
            out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True)
            if "Signature is Valid" not in out.stdout:
                raise SystemExit(f"pdfsig does not find a valid signature in {path}: {out.stdout[-300:]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(run, [files[i::processes] for i in range(processes)]))
    return time.perf_counter() - started


WARM_UP = 16  # documents per server, before the timed rounds (8 in flight: both workers warm)


def over_http(count: int, rounds: int = 8) -> None:
    with serve(workers=2) as live, tempfile.TemporaryDirectory() as tmp:
        admin = {"Authorization": f"Bearer {live.admin_token}"}
        seal = {
            "name": "基准测试章",
            "owner_credit_code": ISSUER,
            "type": 1,
            "algorithm": "rsa",
            "image_png_b64": base64.b64encode(make_png()).decode(),
        }
        seal_id = _post(live, "/api/v1/seals", admin, seal)["seal_id"]
        headers = {**_token(live, "approval-system", [seal_id]), "Content-Type": "application/pdf"}
        documents, files = [], []
        for i in range(2 * count + WARM_UP):
            r = httpx.post(
                f"{live.base}/api/v1/seals/{seal_id}/stamp/pdf",
                content=make_pdf(),
                headers=headers,
                timeout=120,
            )
            r.raise_for_status()
            documents.append(r.content)
            files.append(Path(tmp) / f"{i}.pdf")
            files[-1].write_bytes(r.content)
        asyncio.run(_post_all(live.base, documents[:WARM_UP]))  # warm-up documents, not reused
        # The two sides take turns on parts of their documents (a shared machine's load weighs on both).
        ours, theirs = [], []
        for part in range(rounds):
            share = slice(WARM_UP + part * count // rounds, WARM_UP + (part + 1) * count // rounds)
            size = share.stop - share.start
            ours.append(size / asyncio.run(_post_all(live.base, documents[share])))
            theirs.append(size / pdfsig_seconds(files[count:][share]))
    print(
        ratio_line(
            f"over HTTP, 2 workers, {count} fresh documents", ours, "pdfsig in 2 processes", theirs, 0.8
        )
        + f"  ({rounds} rounds)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=80, help="in process (over HTTP: 4x as many)")
    args = parser.parse_args()
    in_process(args.documents)
    over_http(4 * args.documents)


if __name__ == "__main__":
    main()
