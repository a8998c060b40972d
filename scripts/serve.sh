#!/usr/bin/env bash
# Set up (if needed) and run the app locally: HOST=127.0.0.1 PORT=8000 bash scripts/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

host="${HOST:-127.0.0.1}"
port="${PORT:-8000}"
echo "Serving on http://${host}:${port}/"
exec .venv/bin/uvicorn app.main:app --host "$host" --port "$port"
