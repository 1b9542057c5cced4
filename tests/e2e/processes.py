"""Real `longtrust` processes on loopback ports, each with its own data folder and database."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    """``python -m app ARGS`` in the project root, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def cli(*args: str, env: dict) -> str:
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class Process:
    """One server process; ``start`` waits until /healthz answers, ``stop`` ends it. With ``verify``
    (a CA file or SSL context for httpx) the process serves HTTPS and is checked over it."""

    def __init__(self, args: list[str], env: dict, port: int, log: Path, verify=None):
        self.args, self.env, self.port, self.log, self.verify = args, env, port, log, verify
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.verify else 'http'}://127.0.0.1:{self.port}"

    def start(self, health: str = "/healthz", timeout: float = 120) -> Process:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", *self.args, "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.args} exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + health, timeout=2, verify=self.verify or True).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.args} did not become ready: {self.log.read_text()[-3000:]}")

    def admin(self) -> dict:
        """Headers with the bootstrap security-admin token of this server's data folder."""
        token = (Path(self.env["LONGTRUST_DATA_DIR"]) / "bootstrap-admin.token").read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


def environment(data_dir: Path, database_url: str | None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGTRUST_")}
    env["LONGTRUST_DATA_DIR"] = str(data_dir)
    env["LONGTRUST_CEREMONY_FILE"] = str(ROOT / "tests" / "ceremony-test.yaml")
    if database_url:
        env["LONGTRUST_DATABASE_URL"] = database_url
    env.update({f"LONGTRUST_{k.upper()}": v for k, v in extra.items()})
    return env


def wait_for(condition, timeout: float, what: str):
    """Poll ``condition`` until it returns a truthy value (the condition is the synchronisation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@contextmanager
def databases(kind: str, count: int) -> Iterator[list[str | None]]:
    """``count`` independent databases: None (SQLite in each data folder) or PostgreSQL schemas."""
    from tests.conftest import PG_URL

    if kind == "sqlite":
        yield [None] * count
        return
    if not PG_URL:
        pytest.skip("PostgreSQL run skipped: set LONGTRUST_TEST_DATABASE_URL (CI sets it)")
    schemas = [f"e2e_{secrets.token_hex(4)}" for _ in range(count)]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield [f"{PG_URL}{sep}options=-csearch_path%3D{schema}" for schema in schemas]
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def make_seal(server: Process, admin: dict, name: str, owner: str, algorithm: str = "sm2") -> str:
    """Make a seal through the API (approved by a second operator, as the policy asks); its id."""
    from tests.seal_service.test_pdf import make_png

    body = {
        "name": name,
        "owner_credit_code": owner,
        "type": 1,
        "algorithm": algorithm,
        "image_png_b64": base64.b64encode(make_png()).decode(),
    }
    r = approved(
        httpx.post(f"{server.url}/api/v1/seals", headers=admin, json=body, timeout=60), server.url, server.env
    )
    assert r.status_code == 201, r.text
    return r.json()["seal_id"]


def approved(response: httpx.Response, url: str, env: dict) -> httpx.Response:
    """The answer to a request under dual control once a second operator approves it: the approver's
    token is made with the CLI (host access), as a security administrator would. A direct answer is
    returned as it is."""
    if response.status_code != 202:
        return response
    token = cli("token", "create", "--role", "security-admin", "--name", "second-operator", env=env)
    request_id = response.json()["request_id"]
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.post(f"{url}/api/v1/approvals/{request_id}/approve", headers=headers, timeout=60)
