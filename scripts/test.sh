#!/usr/bin/env bash
# Full check: lint, format, types, Dockerfile lint, then every test including the e2e ones.
# Every step runs; the script exits non-zero if any step failed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh --browser --services

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# e2e and shared-state tests must fail, not skip, when Chromium or redis-server is unavailable.
export E2E_REQUIRED=1

failed=()
step() { # step NAME CMD...
    local name="$1"
    shift
    echo "==> ${name}: $*"
    if ! "$@"; then
        failed+=("$name")
    fi
}

step ruff-check .venv/bin/ruff check .
step ruff-format .venv/bin/ruff format --check .
step mypy .venv/bin/mypy
step hadolint .venv/bin/hadolint Dockerfile
# Any non-zero pytest exit counts, including 5 (no tests collected).
step pytest .venv/bin/python -m pytest

if [ "${#failed[@]}" -gt 0 ]; then
    echo "test.sh: FAILED steps: ${failed[*]}" >&2
    exit 1
fi
