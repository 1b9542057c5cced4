"""Run a real `longtrust serve` on loopback and drive it with wrk (or a Python client without wrk)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _environment(data_dir: Path, env: dict | None) -> dict:
    """The server's environment: benchmarks measure throughput, so the verification limit is off
    unless ``env`` sets it."""
    environment = {**os.environ, "LONGTRUST_RATE_LIMIT_VERIFY": "", "LONGTRUST_DATA_DIR": str(data_dir)}
    if "LONGTRUST_DATABASE_URL" not in (env or {}):
        environment.pop("LONGTRUST_DATABASE_URL", None)
    return {**environment, **(env or {})}


def approved(base: str, response: httpx.Response, data_dir: Path, env: dict | None = None) -> httpx.Response:
    """A request under dual control approved by a second operator (see tests/e2e/processes.py)."""
    from tests.e2e.processes import approved as approve

    return approve(response, base, _environment(data_dir, env))


@dataclass
class Live:
    """A running `longtrust serve`: its URL, bootstrap admin token, data folder and main process id
    (the uvicorn workers are its children)."""

    base: str
    admin_token: str
    data_dir: Path
    pid: int


@contextmanager
def serve(workers: int = 2, env: dict | None = None):
    """A fresh server (SQLite in a temporary folder unless ``env`` names LONGTRUST_DATABASE_URL)."""
    with tempfile.TemporaryDirectory(prefix="longtrust-bench-") as tmp:
        port = free_port()
        environment = _environment(Path(tmp), env)
        log = Path(tmp) / "server.log"  # a file, not a pipe: nobody reads a pipe during a long run
        proc = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", str(workers)],
            env=environment,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
            else:
                raise RuntimeError("server did not start: " + log.read_text(errors="replace")[-2000:])
            token = (Path(tmp) / "bootstrap-admin.token").read_text().strip()
            yield Live(base, token, Path(tmp), proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            _keep_if_failing(log)


def _keep_if_failing(log: Path) -> None:
    """A server log that records an error outlives the run (in the temporary folder's parent)."""
    text = log.read_text(errors="replace")
    if "Traceback" in text or "ERROR" in text:
        kept = (
            Path(tempfile.gettempdir()) / f"longtrust-bench-{time.strftime('%H%M%S')}-{log.parent.name}.log"
        )
        kept.write_text(text)
        print(f"the server logged errors: {kept}", file=sys.stderr)


@contextmanager
def server(workers: int = 2, env: dict | None = None):
    """(base_url, admin_token, data_dir) of a fresh server (see :func:`serve`)."""
    with serve(workers, env) as live:
        yield live.base, live.admin_token, live.data_dir


def wrk(
    url: str,
    *,
    method: str = "POST",
    body: bytes = b"",
    headers: dict | None = None,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
) -> dict:
    """Requests/s, latency percentiles and non-2xx count, from wrk."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        body_file = Path(tmp) / "body"
        body_file.write_bytes(body)
        script = Path(tmp) / "req.lua"
        lines = [
            f'wrk.method = "{method}"',
            f'local f = io.open("{body_file}", "rb")',
            "wrk.body = f:read('*a')",
            "f:close()",
        ]
        lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()]
        lines += [
            "done = function(summary, latency, requests)",
            '  io.write(string.format(\'JSON {"p50":%d,"p99":%d,"non2xx":%d,"errors":%d}\\n\',',
            "    latency:percentile(50), latency:percentile(99), summary.errors.status,",
            "    summary.errors.connect + summary.errors.read",
            "    + summary.errors.write + summary.errors.timeout))",
            "end",
        ]
        script.write_text("\n".join(lines))
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--latency",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    stats = json.loads(out.split("JSON ", 1)[1].splitlines()[0])
    stats["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    stats["output"] = out
    return stats


@dataclass
class Target:
    """One request for wrk to repeat: URL, body and headers."""

    url: str
    body: bytes
    headers: dict


def interleaved(
    targets: dict, seconds: float, rounds: int = 5, warmup: float = 2
) -> dict[object, list[dict]]:
    """wrk stats per target for each of ``rounds`` rounds; every round drives each target in turn
    (the order rotating), so a target and its baseline are measured seconds apart and a drift in the
    machine's speed slows both. Each target is warmed up first. Raises SystemExit on any non-2xx
    answer or socket error."""
    keys = list(targets)
    for key in keys:
        _drive(key, targets[key], warmup)
    runs: dict[object, list[dict]] = {key: [] for key in keys}
    for round_ in range(rounds):
        shift = round_ % len(keys)
        for key in keys[shift:] + keys[:shift]:
            runs[key].append(_drive(key, targets[key], seconds))
    return runs


def _drive(key, target, seconds: float) -> dict:
    """wrk stats of a :class:`Target`, or what a callable target returns for ``seconds`` (a dict
    with "rps", for a baseline that is not HTTP)."""
    if callable(target):
        return {"non2xx": 0, "errors": 0, "output": ""} | target(seconds)
    stats = wrk(target.url, body=target.body, headers=target.headers, seconds=seconds)
    if stats["non2xx"] or stats["errors"] or not stats["rps"]:
        raise SystemExit(
            f"{key}: {stats['non2xx']} non-2xx answers, {stats['errors']} errors, {stats['rps']}/s\n"
            + stats["output"]
        )
    return stats


def ratio_line(
    name: str,
    rates: list[float],
    baseline: str,
    baseline_rates: list[float],
    target: float | None = None,
    extra: str = "",
) -> str:
    """One line: medians of both sides, the median of the per-round ratios and their range, and the
    verdict against ``target``."""
    ratios = [a / b for a, b in zip(rates, baseline_rates, strict=True)]
    ratio = statistics.median(ratios)
    verdict = "" if target is None else ("  ok" if ratio >= target else f"  BELOW {target}")
    return (
        f"{name:<34} {statistics.median(rates):7.0f}/s {extra}  baseline {baseline} "
        f"{statistics.median(baseline_rates):7.0f}/s  ratio {ratio:4.2f}x "
        f"({min(ratios):.2f}-{max(ratios):.2f}){verdict}"
    )
