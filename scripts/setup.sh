#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs LongTrust into it. Sourced by serve.sh and test.sh.
# Usage: scripts/setup.sh [test]   ("test" also installs the test tools and, as root, the
# external checkers the interoperability tests use).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  command -v apt-get >/dev/null || return 1
  [ -f /tmp/.longtrust-apt-updated ] || { as_root apt-get update -qq && touch /tmp/.longtrust-apt-updated; } || return 1
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "LongTrust needs Python 3.11+"'
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv python3-dev || { echo "python3 -m venv failed: install python3-venv" >&2; exit 1; }
    "$PYTHON" -m venv .venv
  fi
fi
# libcrypto.so.3 (OpenSSL 3) runs SM2; Debian ships it in libssl3.
ldconfig -p 2>/dev/null | grep -q 'libcrypto.so.3' || apt_install libssl3 openssl || true

# A CJK font draws template seal images and is embedded (subset) in license OFD files.
ls /usr/share/fonts/truetype/wqy/wqy-microhei.ttc >/dev/null 2>&1 || apt_install fonts-wqy-microhei \
  || echo "note: could not install fonts-wqy-microhei; set LONGTRUST_CJK_FONT to a CJK font file" >&2

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${1:-run}
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "${1:-}" = test ]; then .venv/bin/pip install -q -e '.[test]'; else .venv/bin/pip install -q -e .; fi
  touch "$stamp"
fi

if [ "${1:-}" = test ]; then
  # External checkers for tests/interop and tests/browser (skipped with a reason when absent).
  missing=()
  command -v openssl >/dev/null || missing+=(openssl)
  command -v softhsm2-util >/dev/null || missing+=(softhsm2)
  command -v pdfsig >/dev/null || missing+=(poppler-utils)
  command -v certutil >/dev/null || missing+=(libnss3-tools)
  [ -x /usr/bin/chromium ] || missing+=(chromium)  # tests/browser: headless Chromium and its driver
  [ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}" || echo "note: could not install ${missing[*]}; their interop or browser tests will skip" >&2
  fi
fi
