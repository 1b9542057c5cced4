"""The database goes away and comes back: 503 + Retry-After, OCSP tryLater, recovery without a restart;
a database that never answers at start-up: a one-line error within the connect timeout."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from asn1crypto import ocsp, x509
from sqlalchemy import create_engine, make_url, text

from tests.conftest import PG_URL, auth

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already shut or closed
        sock.shutdown(socket.SHUT_RDWR)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to an upstream address; `close()` drops the listener and every
    connection (the database is gone), `reopen()` listens on the same port again."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.reopen()

    def reopen(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(32)
        self.port = self._listener.getsockname()[1]
        self._accepting = threading.Thread(target=self._accept, args=(self._listener,), daemon=True)
        self._accepting.start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            _shut(s)

    def close(self) -> None:
        _shut(self._listener)  # wakes the blocked accept()
        self._listener.close()
        self._accepting.join()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            _shut(conn)
            conn.close()


@pytest.fixture
def proxied(tmp_path):
    """Settings on a fresh PostgreSQL schema reached through a TcpProxy."""
    if not PG_URL:
        pytest.skip("needs PostgreSQL: set LONGTRUST_TEST_DATABASE_URL")
    from app.settings import Settings

    url = make_url(PG_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    through = url.set(host="127.0.0.1", port=proxy.port).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=through.render_as_string(hide_password=False),
        ceremony_file=ROOT / "tests" / "ceremony-test.yaml",
        database_connect_timeout_s=2,
    )
    yield proxy, settings
    proxy.close()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _ocsp_request(ca_pem: str, serial: int) -> bytes:
    """A request about `serial` (distinct bytes each time, so no answer to the same bytes is reused)."""
    from asn1crypto import pem

    issuer = x509.Certificate.load(pem.unarmor(ca_pem.encode())[2])
    cert_id = {
        "hash_algorithm": {"algorithm": "sha1"},
        "issuer_name_hash": issuer.subject.sha1,
        "issuer_key_hash": issuer.public_key.sha1,
        "serial_number": serial,
    }
    return ocsp.OCSPRequest({"tbs_request": {"request_list": [{"req_cert": cert_id}]}}).dump()


def _answers(client, token: str, ca_pem: str, serial: int) -> dict:
    headers = {"Content-Type": "application/ocsp-request"}
    return {
        "healthz": client.get("/healthz"),
        "api": client.get("/api/v1/cas", headers=auth(token)),
        "crl": client.get("/crl/sm2-issuing.crl"),
        "ocsp": client.post("/ocsp", content=_ocsp_request(ca_pem, serial), headers=headers),
    }


def test_database_lost_and_back_without_restart(proxied):
    from fastapi.testclient import TestClient

    from app.cli import initialise
    from app.container import build_services
    from app.main import create_app

    proxy, settings = proxied
    settings.data_dir.mkdir(parents=True)
    initialise(settings)
    token = (settings.data_dir / "bootstrap-admin.token").read_text().strip()
    services = build_services(settings)
    with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
        cas = client.get("/api/v1/cas", headers=auth(token)).json()
        ca_pem = next(c for c in cas if c["id"] == "sm2-issuing")["certificate_pem"]
        before = _answers(client, token, ca_pem, 0x1001)
        assert {k: r.status_code for k, r in before.items()} == dict.fromkeys(before, 200)
        assert ocsp.OCSPResponse.load(before["ocsp"].content)["response_status"].native == "successful"

        proxy.close()
        down = _answers(client, token, ca_pem, 0x1002)
        for name in ("healthz", "api", "crl"):
            answer = down[name]
            assert answer.status_code == 503, (name, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            assert int(answer.headers["retry-after"]) > 0
            assert answer.json()["status"] == 503
        assert down["ocsp"].status_code == 200
        assert down["ocsp"].headers["content-type"] == "application/ocsp-response"
        assert ocsp.OCSPResponse.load(down["ocsp"].content)["response_status"].native == "try_later"

        proxy.reopen()
        after = _answers(client, token, ca_pem, 0x1003)
        assert {k: r.status_code for k, r in after.items()} == dict.fromkeys(after, 200)
        assert ocsp.OCSPResponse.load(after["ocsp"].content)["response_status"].native == "successful"
    services.close()


def test_start_against_a_port_that_never_answers_fails_in_one_line(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the kernel; nothing ever answers
    port = silent.getsockname()[1]
    env = {
        **os.environ,
        "LONGTRUST_DATA_DIR": str(tmp_path / "data"),
        "LONGTRUST_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/test",
        "LONGTRUST_DATABASE_CONNECT_TIMEOUT_S": "2",
    }
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "app", "init"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    finally:
        silent.close()
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: database"), done.stderr
    assert time.monotonic() - started < 30
