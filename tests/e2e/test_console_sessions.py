"""A console session made by one server process is honoured by another (the cookie is signed with a
key both derive from the KEK) and ends everywhere at once when its token is revoked or it signs out."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.processes import Process, cli, environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COOKIE = "lt_console"


def _sign_in(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    form = client.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post("/console/login", data={"token": token, "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/console", r.text
    return client


def test_a_session_works_on_every_process_and_ends_on_revocation(tmp_path):
    env = environment(tmp_path / "data", None)  # one SQLite data folder for both servers
    a = Process(["serve"], env, free_port(), tmp_path / "a.log").start()
    b = None
    try:
        b = Process(["serve"], env, free_port(), tmp_path / "b.log").start()
        made = httpx.post(
            a.url + "/api/v1/tokens", headers=a.admin(), json={"role": "auditor", "name": "audra"}, timeout=30
        ).json()
        on_a = _sign_in(a.url, made["token"])
        on_b = httpx.Client(base_url=b.url, cookies=on_a.cookies, timeout=30)
        assert "audra (auditor)" in on_b.get("/console").text  # B accepts A's session
        cli("token", "revoke", made["token_id"], env=env)
        for client in (on_a, on_b):
            r = client.get("/console/audit")
            assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    finally:
        for process in (a, b):
            if process is not None:
                process.stop()


def _csrf(client: httpx.Client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console").text).group(1)


def test_signing_out_on_one_process_ends_the_session_on_another(tmp_path):
    env = environment(tmp_path / "data", None)
    a = Process(["serve"], env, free_port(), tmp_path / "a.log").start()
    b = None
    try:
        b = Process(["serve"], env, free_port(), tmp_path / "b.log").start()
        made = httpx.post(
            a.url + "/api/v1/tokens", headers=a.admin(), json={"role": "auditor", "name": "olga"}, timeout=30
        ).json()
        on_a = _sign_in(a.url, made["token"])
        copied = on_a.cookies.get(COOKIE)
        on_b = httpx.Client(base_url=b.url, cookies={COOKIE: copied}, timeout=30)
        assert on_b.get("/console/audit").status_code == 200
        r = on_a.post("/console/logout", data={"csrf_token": _csrf(on_a)})
        assert r.status_code == 303 and r.headers["location"] == "/console/login"
        r = on_b.get("/console/audit")  # the same cookie, kept by someone after the sign-out
        assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
        events = httpx.get(
            b.url + "/api/v1/audit/events",
            headers=b.admin(),
            params={"action": "console.sign-out"},
            timeout=30,
        ).json()["items"]
        assert [e["subject"] for e in events] == [made["token_id"]]
    finally:
        for process in (a, b):
            if process is not None:
                process.stop()
