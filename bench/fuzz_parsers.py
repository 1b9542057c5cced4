"""Fuzz the seal, stamp and OFD parsers with mutated interop samples.

Every case must end in a result or a DomainError; any other exception is a bug. Run by hand:

    .venv/bin/python bench/fuzz_parsers.py [--cases 100000] [--seed 1] [--save-crashes DIR]

Exits 1 if an exception other than DomainError escapes; prints outcome counts and cases/s.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
import traceback
import zipfile
from collections import Counter
from pathlib import Path

from core.errors import DomainError
from verify.ofd import verify_ofd
from verify.ses import parse_seal, parse_signature, verify_seal, verify_stamp

INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "interop"


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    """One to four mutations: bit flips, byte sets, truncation, deletion, insertion, splices."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            out += rng.randbytes(rng.randint(1, 16))
        op = rng.choices(range(7), weights=(30, 15, 5, 10, 10, 15, 15))[0]
        pos = rng.randrange(len(out))
        if op == 0:
            out[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            out[pos] = rng.choice((0x00, 0x80, 0x81, 0x82, 0x84, 0xFF, 0x30, 0xA0, 0x1F))
        elif op == 2:
            del out[rng.randrange(len(out)) :]
        elif op == 3:
            del out[pos : pos + rng.randint(1, 64)]
        elif op == 4:
            out[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif op == 5:
            donor = rng.choice(corpus)
            start = rng.randrange(len(donor))
            out[pos : pos + rng.randint(1, 256)] = donor[start : start + rng.randint(1, 256)]
        else:
            start = rng.randrange(len(out))
            out[pos:pos] = out[start : start + rng.randint(1, 128)]  # duplicate a region
    return bytes(out)


def members(package: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist() if not i.is_dir()]


def rezip(files: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files:
            zf.writestr(name, content)
    return out.getvalue()


def ofd_case(rng: random.Random, packages: list[tuple[bytes, list]], corpus: list[bytes]) -> bytes:
    raw, files = rng.choice(packages)
    if rng.random() < 0.3:
        return mutate(rng, raw, corpus)
    files = list(files)
    index = rng.randrange(len(files))
    name, content = files[index]
    files[index] = (name, mutate(rng, content, corpus))
    return rezip(files)


def run(cases: int, seed: int, save: Path | None) -> int:
    ses_files = sorted(p for p in (INTEROP / "ses").glob("*") if p.suffix in (".esl", ".dat", ".DER"))
    ofd_files = sorted((INTEROP / "ofd").glob("*.ofd"))
    if not ses_files or not ofd_files:
        print(f"interop samples not found under {INTEROP}", file=sys.stderr)
        return 2
    ses_corpus = [p.read_bytes() for p in ses_files]
    packages = [(p.read_bytes(), members(p.read_bytes())) for p in ofd_files]
    corpus = ses_corpus + [content for _, files in packages for _, content in files]
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    crashes = 0
    started = time.perf_counter()
    for case in range(cases):
        target = ("seal", "stamp", "ofd")[case % 3]
        if target == "ofd":
            data = ofd_case(rng, packages, corpus)
        else:  # mostly seals and stamps, sometimes anything from the packages
            data = mutate(rng, rng.choice(ses_corpus if rng.random() < 0.85 else corpus), corpus)
        try:
            if target == "ofd":
                counts[f"ofd {verify_ofd(data).indication}"] += 1
            else:
                parse = parse_seal if target == "seal" else parse_signature
                verify = verify_seal if target == "seal" else verify_stamp
                try:
                    parse(data)
                except DomainError:
                    counts[f"{target} rejected"] += 1
                    continue
                counts[f"{target} {verify(data).indication}"] += 1
        except DomainError:
            counts[f"{target} rejected"] += 1
        except Exception:  # the bug this script hunts for
            crashes += 1
            counts[f"{target} CRASH"] += 1
            print(f"case {case} (seed {seed}, target {target}): unexpected exception", file=sys.stderr)
            traceback.print_exc()
            if save:
                save.mkdir(parents=True, exist_ok=True)
                (save / f"crash-{seed}-{case}.{target}").write_bytes(data)
    elapsed = time.perf_counter() - started
    for key in sorted(counts):
        print(f"{key:32} {counts[key]:>8}")
    print(
        f"{cases} cases in {elapsed:.1f} s: {cases / elapsed:,.0f} cases/s; {crashes} unexpected exceptions"
    )
    return 1 if crashes else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--save-crashes", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    sys.exit(run(args.cases, args.seed, args.save_crashes))


if __name__ == "__main__":
    main()
