#!/usr/bin/env bash
# Create .venv if needed, install wfhost into it, and run `wfhost demo` (in ./.wfhost-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q -e .   # only what the demo runs (scripts/test.sh adds the test tools)
exec .venv/bin/wfhost demo "$@"
