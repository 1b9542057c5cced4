"""Two server processes sharing one Redis store count one rate limit between them."""

from __future__ import annotations

import os
import secrets

import httpx
import pytest

from tests.e2e.processes import Process, environment, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REDIS_URL = os.environ.get("LONGTRUST_TEST_REDIS_URL", "redis://127.0.0.1:6379")
LIMIT = 6


@pytest.fixture
def redis_url():
    redis = pytest.importorskip("redis", reason="the redis client is not installed (pip install '.[redis]')")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); set LONGTRUST_TEST_REDIS_URL")
    return REDIS_URL


def _is_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 429
    assert 0 < int(response.headers["retry-after"]) <= 60


def test_authentication_failures_are_counted_across_processes(tmp_path, redis_url):
    prefix = f"longtrust-test-{secrets.token_hex(6)}"
    env = environment(
        tmp_path / "data",
        None,
        rate_limit_storage=redis_url,
        rate_limit_key_prefix=prefix,
        rate_limit_auth_failures=f"{LIMIT}/minute",
    )
    a = Process(["serve"], env, free_port(), tmp_path / "a.log").start()
    b = None
    try:
        b = Process(["serve"], env, free_port(), tmp_path / "b.log").start()
        admin = a.admin()
        assert httpx.get(b.url + "/api/v1/cas", headers=admin).status_code == 200
        wrong = {"Authorization": "Bearer lt_wrong"}
        for i in range(LIMIT):  # spread over both processes: each sees only half of them
            answer = httpx.get((a, b)[i % 2].url + "/api/v1/cas", headers=wrong)
            assert answer.status_code == 401, answer.text
        _is_limited(httpx.get(a.url + "/api/v1/cas", headers=wrong))
        _is_limited(httpx.get(b.url + "/api/v1/cas", headers=admin))  # over the limit, even a valid token
        import redis

        keys = redis.Redis.from_url(redis_url).keys(f"{prefix}*")
        assert keys, "the counters live in the shared store under the configured prefix"
    finally:
        for process in (a, b):
            if process is not None:
                process.stop()
