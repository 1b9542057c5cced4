"""A token revoked through one server process is refused by another on its very next request."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Process, environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_revocation_reaches_another_process_at_once(tmp_path):
    env = environment(tmp_path / "data", None)  # one SQLite data folder for both servers
    a = Process(["serve"], env, free_port(), tmp_path / "a.log").start()
    b = None
    try:
        b = Process(["serve"], env, free_port(), tmp_path / "b.log").start()
        admin = (Path(env["LONGTRUST_DATA_DIR"]) / "bootstrap-admin.token").read_text().strip()
        made = httpx.post(
            a.url + "/api/v1/tokens",
            headers={"Authorization": f"Bearer {admin}"},
            json={"role": "verifier", "name": "relying-party"},
        ).json()
        user = {"Authorization": f"Bearer {made['token']}"}
        assert httpx.get(b.url + "/api/v1/cas", headers=user).status_code == 200  # B has it cached now
        revoked = httpx.post(
            a.url + f"/api/v1/tokens/{made['token_id']}/revoke", headers={"Authorization": f"Bearer {admin}"}
        )
        assert revoked.status_code == 200
        refused = httpx.get(b.url + "/api/v1/cas", headers=user)
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        for process in (a, b):
            if process is not None:
                process.stop()
