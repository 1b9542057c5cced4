"""License look-up by identifier on PostgreSQL with 1,000,000 licenses, in-process and over HTTP.

Run: `.venv/bin/python -m bench.bench_lookup [--licenses N] [--seconds S]`. A fresh schema in database
`test` is migrated, bulk-loaded with COPY and analysed; it is dropped at the end, also on failure.
Targets: p99 <= 5 ms for `RegistryService.status_of` and `get`. The baseline, measured in the same run on
the same identifiers, is the raw `SELECT ... WHERE identifier = %s` of the columns the answer needs,
through psycopg (autocommit, one round trip): the ratio is what the service, the ORM and HTTP add.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

from app.migrate import upgrade
from app.tokens import Principal
from core.clock import SystemClock
from db.base import Database
from license_registry.holder import holder_hash
from license_registry.identifier import ALPHABET, build
from license_registry.service import RegistryService
from tests.e2e.processes import Process, environment, free_port

PG = "postgresql://postgres@127.0.0.1:5432/test"
REGION, ISSUER = "110000", "11100000000013338W"
TYPE_CODE = ISSUER + "032"
SAMPLES = 20_000
TARGET_P99_MS = 5.0
COLUMNS = (
    "identifier, type_code, version, serial, issuer_code, region, holder_name, holder_id_type, "
    "holder_id_number, holder_hash, data_json, valid_from, valid_to, status, seal_id, stamp_der, "
    "document_json, created_by, created_at, status_changed_at"
)
BY_ID = " FROM lic_licenses WHERE identifier = %s"
STATUS_SQL = "SELECT region, status, version, status_changed_at, created_at" + BY_ID
DOCUMENT_SQL = "SELECT document_json, status" + BY_ID
SCOPE = "预包装食品销售（含冷藏冷冻食品）；散装食品销售"


def citizen_id(n: int) -> str:
    body = f"110105{19600101 + n % 400 * 100 + n % 28:08d}{n % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]


def load(conn: psycopg.Connection, n: int, sample: set[int]) -> list[str]:
    """COPY n licenses (a catalog type first); returns the identifiers of the rows numbered in ``sample``."""
    rng = random.Random(36904)
    now = datetime.now(UTC)
    stamps = [(der, base64.b64encode(der).decode()) for der in (rng.randbytes(1024) for _ in range(64))]
    holders = [(citizen_id(i), f"测试人{i}") for i in range(50_000)]
    hashes = [holder_hash(number) for number, _ in holders]
    conn.execute(
        "INSERT INTO lic_types (type_code, name, defining_body_code, issuer_code, holder_kind, "
        "validity_days, schema_json, created_by, created_at) VALUES (%s, '食品经营许可证', %s, %s, "
        "'person', 1825, '{\"type\": \"object\"}', 'bench', %s)",
        (TYPE_CODE, ISSUER, ISSUER, now),
    )
    kept = []
    with conn.cursor().copy(f"COPY lic_licenses ({COLUMNS}) FROM STDIN") as copy:
        for i in range(n):
            serial = "".join(rng.choices(ALPHABET, k=20))
            identifier = str(build(TYPE_CODE, ISSUER, serial, 1))
            if i in sample:
                kept.append(identifier)
            (number, name), (stamp, stamp_b64) = holders[i % len(holders)], stamps[i % len(stamps)]
            valid_from = date(2020, 1, 1) + timedelta(days=i % 1800)
            valid_to = valid_from + timedelta(days=1825)
            status = ("revoked", "expired")[i % 2] if i % 20 == 0 else "valid"
            data = {
                "licence_no": f"JY1{i:013d}",
                "business_scope": SCOPE,
                "address": f"北京市朝阳区建国路{i % 300}号",
                "legal_representative": name,
            }
            document = {
                "identifier": identifier,
                "type_code": TYPE_CODE,
                "version": "001",
                "region": REGION,
                "holder": {"name": name, "id_type": "111", "id_number": number},
                "issuer": ISSUER,
                "data": data,
                "valid_from": valid_from.isoformat(),
                "valid_to": valid_to.isoformat(),
                "status": "valid",
                "stamp": {"ses_signature_der_b64": stamp_b64},
            }
            copy.write_row(
                (
                    identifier,
                    TYPE_CODE,
                    1,
                    serial,
                    ISSUER,
                    REGION,
                    name,
                    "111",
                    number,
                    hashes[i % len(hashes)],
                    json.dumps(data, ensure_ascii=False),
                    valid_from,
                    valid_to,
                    status,
                    "seal-bench",
                    stamp,
                    json.dumps(document, ensure_ascii=False),
                    "registry-operator:bench",
                    now,
                    now if status != "valid" else None,
                )
            )
    conn.commit()
    return kept


def latencies(op: Callable[[str], object], identifiers: list[str]) -> list[float]:
    """Milliseconds per call, sorted, after a warm-up of 500 calls."""
    for identifier in identifiers[:500]:
        op(identifier)
    out = []
    for identifier in identifiers:
        start = time.perf_counter()
        op(identifier)
        out.append((time.perf_counter() - start) * 1000)
    return sorted(out)


def p(sorted_ms: list[float], q: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(q / 100 * len(sorted_ms)))]


def line(name: str, p50: float, p99: float, base: list[float], extra: str = "", note: str = "") -> None:
    verdict = "ok" if p99 <= TARGET_P99_MS else "ABOVE target"
    print(
        f"{name:<44} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms{extra}  "
        f"target p99 <= {TARGET_P99_MS:.0f} ms{note} {verdict}   "
        f"baseline raw SELECT p50 {p(base, 50):5.2f} ms p99 {p(base, 99):5.2f} ms   "
        f"ratio p50 {p50 / p(base, 50):5.1f}x p99 {p99 / p(base, 99):5.1f}x"
    )


def wrk(url: str, token: str, ids_file: Path, seconds: int, connections: int) -> dict:
    """wrk GETs of /api/v1/licenses/{identifier}, identifiers picked at random from ``ids_file``."""
    script = ids_file.with_suffix(".lua")
    script.write_text(f"""
local ids = {{}}
for line in io.lines("{ids_file}") do ids[#ids + 1] = line end
wrk.headers["Authorization"] = "Bearer {token}"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init(args) math.randomseed(id * 7919 + os.time()) end
function request() return wrk.format("GET", "/api/v1/licenses/" .. ids[math.random(#ids)]) end
function done(summary, latency, requests)
  io.write(string.format('JSON {{"p50":%d,"p99":%d,"non2xx":%d,"errors":%d}}\\n', latency:percentile(50),
    latency:percentile(99), summary.errors.status, summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout))
end
""")
    command = [
        "wrk",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.split("JSON ", 1)[1].splitlines()[0])
    stats["rps"] = float(out.split("Requests/sec:", 1)[1].split()[0])
    return stats


def main(n: int, seconds: int) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    schema = f"bench_{secrets.token_hex(4)}"
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    admin = psycopg.connect(PG, autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    db = Database(url)
    server = None
    try:
        upgrade(db)
        start = time.perf_counter()
        with psycopg.connect(PG, options=f"-csearch_path={schema}") as conn:
            identifiers = load(conn, n, set(random.Random(1).sample(range(n), min(n, SAMPLES))))
            loaded = time.perf_counter() - start
            conn.execute("ANALYZE lic_licenses")
            conn.commit()
            size, document, stamp = conn.execute(
                "SELECT pg_total_relation_size('lic_licenses'), avg(octet_length(document_json)), "
                "avg(octet_length(stamp_der)) FROM (SELECT * FROM lic_licenses LIMIT 10000) t"
            ).fetchone()
        analysed = time.perf_counter() - start - loaded
        print(
            f"loaded {n:,} licenses in {loaded:.0f} s with COPY ({n / loaded:,.0f} rows/s), ANALYZE "
            f"{analysed:.0f} s; table with indexes and TOAST {size / 2**30:.2f} GB, "
            f"per row: document {document / 1024:.1f} KB, stamp {stamp / 1024:.1f} KB"
        )
        random.Random(2).shuffle(identifiers)

        raw = psycopg.connect(PG, options=f"-csearch_path={schema}", autocommit=True)
        base_status = latencies(lambda i: raw.execute(STATUS_SQL, (i,)).fetchone(), identifiers)
        base_document = latencies(lambda i: raw.execute(DOCUMENT_SQL, (i,)).fetchone(), identifiers)
        raw.close()
        registry = RegistryService(db, None, SystemClock(), REGION)
        reader = Principal("tok-bench", "bench", "registry-operator")
        for name, op, base in (
            ("status_of(identifier) (in-process)", registry.status_of, base_status),
            ("get(identifier) (in-process)", registry.get, base_document),
            ("get(identifier, principal) (access logged)", lambda i: registry.get(i, reader), base_document),
        ):
            ms = latencies(op, identifiers)
            line(name, p(ms, 50), p(ms, 99), base)

        data_dir = Path(tempfile.mkdtemp(prefix="longtrust-bench-lookup-"))
        server = Process(
            ["serve", "--workers", "2"], environment(data_dir, url), free_port(), data_dir / "server.log"
        ).start()
        bootstrap = (data_dir / "bootstrap-admin.token").read_text().strip()
        token = httpx.post(
            f"{server.url}/api/v1/tokens",
            headers={"Authorization": f"Bearer {bootstrap}"},
            json={"role": "registry-operator", "name": "bench-lookup"},
        ).json()["token"]
        ids_file = data_dir / "identifiers.txt"
        ids_file.write_text("\n".join(identifiers) + "\n")
        for connections in (1, 16):
            stats = wrk(server.url, token, ids_file, seconds, connections)
            line(
                f"GET /api/v1/licenses/{{id}} (HTTP, wrk -c {connections})",
                stats["p50"] / 1000,
                stats["p99"] / 1000,
                base_document,
                f"  {stats['rps']:6.0f}/s non-2xx {stats['non2xx']} errors {stats['errors']}",
                " (set for in-process)",
            )
    finally:
        if server is not None:
            server.stop()
            shutil.rmtree(server.env["LONGTRUST_DATA_DIR"], ignore_errors=True)
        db.dispose()
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--licenses", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    args = parser.parse_args()
    main(args.licenses, args.seconds)
