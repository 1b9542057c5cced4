#!/usr/bin/env bash
# Sets up LongTrust with its test tools and runs the linters and the whole test suite.
# With LONGTRUST_TEST_DATABASE_URL set, every database test runs again on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
# Two xdist workers by default (LONGTRUST_TEST_WORKERS): each test has its own data folder and schema.
exec .venv/bin/pytest -n "${LONGTRUST_TEST_WORKERS:-2}" "$@"
