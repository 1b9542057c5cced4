#!/usr/bin/env bash
# Sets up LongTrust and runs it on SQLite in ./longtrust-data (initialised on first start).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/longtrust serve "$@"
