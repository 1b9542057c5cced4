"""A small benchmark harness: time a scenario, measure its baseline in the same run, print the ratio.

Benchmarks run by hand (`.venv/bin/python -m bench.<name>`), never in the test suite.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Result:
    name: str
    per_second: float

    def ratio_to(self, baseline: Result) -> float:
        return self.per_second / baseline.per_second


def rate(name: str, op: Callable[[], object], seconds: float = 2.0, warmup: int = 20) -> Result:
    """Operations per second of ``op`` over about ``seconds`` (single thread)."""
    for _ in range(warmup):
        op()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            op()
        count += 50
        now = time.perf_counter()
        if now >= deadline:
            return Result(name, count / (now - start))


def openssl_speed(algorithm: str, seconds: int = 3) -> tuple[float, float]:
    """(sign/s, verify/s) from `openssl speed -seconds N -multi 1 ALGORITHM` (one process)."""
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), algorithm], capture_output=True, text=True, check=True
    ).stdout
    last = [line for line in out.splitlines() if line.strip()][-1]
    numbers = re.findall(r"[\d.]+", last.split("bits", 1)[-1] if "bits" in last else last)
    sign, verify = float(numbers[-2]), float(numbers[-1])
    return sign, verify


def report(result: Result, baseline: Result, target: float | None = None) -> str:
    ratio = result.ratio_to(baseline)
    verdict = "" if target is None else ("  ok" if ratio >= target else f"  BELOW target {target:.0%}")
    return (
        f"{result.name:<36} {result.per_second:>10.0f}/s   baseline {baseline.name}: "
        f"{baseline.per_second:>9.0f}/s   ratio {ratio:6.1%}{verdict}"
    )
