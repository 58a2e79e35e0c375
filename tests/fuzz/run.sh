#!/usr/bin/env bash
# Fuzzes an orgql server binary's /graphql with Schemathesis (see fuzz.py):
# no 5xx, no INTERNAL_SERVER_ERROR, every request answered in time, and the
# server alive and panic-free afterwards. About 1-3 minutes.
#
# Usage: tests/fuzz/run.sh SERVER_BINARY
#
# The pinned tools live in a virtualenv at $FUZZ_VENV (default
# tests/fuzz/.venv, gitignored), made or refreshed when requirements.txt or
# constraints.txt change. Settings: see fuzz.py (FUZZ_EXAMPLES, FUZZ_SEED, ...).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 SERVER_BINARY" >&2
    exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${FUZZ_VENV:-$HERE/.venv}
PYTHON=${PYTHON:-python3}

stamp=$(cat "$HERE/requirements.txt" "$HERE/constraints.txt" | sha256sum | cut -d' ' -f1)
if [[ ! -x "$VENV/bin/python" || ! -f "$VENV/.orgql-requirements-sha256" || "$(cat "$VENV/.orgql-requirements-sha256")" != "$stamp" ]]; then
    echo "==> virtualenv $VENV (pip install -r requirements.txt -c constraints.txt)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        -r "$HERE/requirements.txt" -c "$HERE/constraints.txt"
    echo "$stamp" > "$VENV/.orgql-requirements-sha256"
fi

exec "$VENV/bin/python" "$HERE/fuzz.py" "$1"
