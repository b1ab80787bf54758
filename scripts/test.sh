#!/usr/bin/env bash
# Create .venv if needed, install wfhost with its test extras, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q -e '.[test]'
# The dashboard's browser tests drive Debian's chromium (never a Playwright download).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium >/dev/null || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null) \
        || echo "WARNING: chromium could not be installed; the dashboard browser tests will be SKIPPED" >&2
fi
exec .venv/bin/python -m pytest -q "$@"
