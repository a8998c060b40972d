#!/usr/bin/env bash
# Idempotent project setup: creates .venv and installs the project with its dev extras.
#   bash scripts/setup.sh            # Python side only
#   bash scripts/setup.sh --browser  # also ensure Debian's Chromium (/usr/bin/chromium) for e2e tests, and
#                                    # fetch their pinned test-only JavaScript (axe-core, mermaid) from npm
#   bash scripts/setup.sh --services # also ensure Debian's redis-server and postgresql, which the shared-state and
#                                    # short-link tests start on ports of their own
set -euo pipefail
cd "$(dirname "$0")/.."

want_browser=0
want_services=0
for arg in "$@"; do
    case "$arg" in
        --browser) want_browser=1 ;;
        --services) want_services=1 ;;
        -h | --help)
            sed -n '2,7p' "$0"
            exit 0
            ;;
        *)
            echo "setup.sh: unknown argument: $arg" >&2
            exit 2
            ;;
    esac
done

# Never let Playwright fetch a browser build of its own; we use Debian's Chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Run a command as root: directly if we are root, via sudo if available, else fail clearly.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: need root to run: $* (not root and sudo is not installed)" >&2
        return 1
    fi
}

py_ok() { # $1 = interpreter; true if it exists and is >= 3.11
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1
}

# --- Python virtualenv -------------------------------------------------------------------
if [ -x .venv/bin/python ] && ! py_ok .venv/bin/python; then
    echo "setup.sh: existing .venv is broken or older than Python 3.11; recreating it" >&2
    rm -rf .venv
fi

if [ ! -x .venv/bin/python ]; then
    PY="${PYTHON:-python3}"
    if ! command -v "$PY" >/dev/null 2>&1; then
        echo "setup.sh: '$PY' not found; Python >= 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
    if ! py_ok "$PY"; then
        echo "setup.sh: Python >= 3.11 is required, but '$PY' is $("$PY" -V 2>&1)." >&2
        echo "          Install Python 3.11+ or set PYTHON=/path/to/python3.11." >&2
        exit 1
    fi
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        # Debian's system python ships venv/ensurepip separately.
        pyver="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
        echo "setup.sh: '$PY' lacks venv/ensurepip; installing python${pyver}-venv with apt" >&2
        as_root apt-get update
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "python${pyver}-venv"
    fi
    echo "setup.sh: creating .venv with $("$PY" -V 2>&1)"
    "$PY" -m venv .venv
    rm -f .venv/.setup-stamp
fi

# Re-install only when pyproject.toml, the interpreter or the set of packages under app/ changed
# (the editable install records which packages and namespaces existed when it ran).
stamp="$(
    {
        cat pyproject.toml
        .venv/bin/python -VV
        if [ -d app ]; then find app -name __init__.py -not -path '*/__pycache__/*' | LC_ALL=C sort; fi
    } | sha256sum | cut -d' ' -f1
)"
if [ "$(cat .venv/.setup-stamp 2>/dev/null || true)" != "$stamp" ]; then
    echo "setup.sh: installing project and dev dependencies into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e '.[dev]'
    echo "$stamp" >.venv/.setup-stamp
fi

# Install a Debian package with apt-get unless what it provides is already there.
#   $1 = the package; $2 = what it provides (for messages); the rest = a command that succeeds once it is installed
ensure_debian_package() {
    local package="$1" provides="$2"
    shift 2
    if "$@" >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup.sh: $provides is missing and apt-get is not available; install $package" >&2
        exit 1
    fi
    echo "setup.sh: installing Debian's $package with apt-get"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "$package"
    if ! "$@" >/dev/null 2>&1; then
        echo "setup.sh: apt-get finished but $provides is still missing" >&2
        exit 1
    fi
}
postgres_installed() { ls /usr/lib/postgresql/*/bin/postgres; }

# --- Chromium for the e2e tests -----------------------------------------------------------
if [ "$want_browser" -eq 1 ]; then
    ensure_debian_package chromium /usr/bin/chromium test -x /usr/bin/chromium
fi

# --- Test-only JavaScript for the e2e tests (axe-core, mermaid) ---------------------------------------
# Pinned npm tarballs, verified against their integrity, one file each extracted into .cache/test-assets/
# (git-ignored, never served). See scripts/TEST_ASSETS.md. No node or npm needed; a no-op once fetched.
if [ "$want_browser" -eq 1 ]; then
    if ! .venv/bin/python scripts/fetch_test_assets.py; then
        echo "setup.sh: could not fetch the browser tests' pinned JavaScript from the npm registry (see above)." >&2
        echo "          The e2e tests need it; they fail without it when E2E_REQUIRED=1 or CI is set." >&2
        exit 1
    fi
fi

# --- redis-server for the shared-state tests ---------------------------------------------------
# The tests start their own server on a free port (tests/conftest.py); only the binary is needed, not a service.
if [ "$want_services" -eq 1 ]; then
    ensure_debian_package redis-server redis-server command -v redis-server
fi

# --- PostgreSQL for the short-link store's tests ----------------------------------------------------------------
# tests/databases.py starts a cluster of its own (initdb + postgres from /usr/lib/postgresql/*/bin) on a free port;
# only the package is needed, not its service.
if [ "$want_services" -eq 1 ]; then
    ensure_debian_package postgresql "PostgreSQL (/usr/lib/postgresql/*/bin/postgres)" postgres_installed
fi
