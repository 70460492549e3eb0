#!/usr/bin/env bash
# `make run`: upgrade the database, bootstrap a first admin and store, start the
# development Casdoor server (unless CASDOOR_ENDPOINT points at a real one) and
# serve Storehouse on http://127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=wsgi
DEV_CASDOOR_PORT="${DEV_CASDOOR_PORT:-8000}"

if [ -z "${CASDOOR_ENDPOINT:-}" ]; then
  # The demo application of devcasdoor/seed/demo.json (development only).
  export CASDOOR_ENDPOINT="http://127.0.0.1:${DEV_CASDOOR_PORT}"
  export CASDOOR_CLIENT_ID="9c1d2e3f4a5b6c7d8e9f"
  export CASDOOR_CLIENT_SECRET="0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6"
  export CASDOOR_ORG_NAME="storehouse"
  export CASDOOR_APP_NAME="storehouse"
  export CASDOOR_REQUIRED_GROUPS="${CASDOOR_REQUIRED_GROUPS:-storehouse/staff}"
  mkdir -p instance
  "$BIN/python" -m devcasdoor --host 127.0.0.1 --port "$DEV_CASDOOR_PORT" \
      --state-dir instance/devcasdoor > instance/devcasdoor.log 2>&1 &
  CASDOOR_PID=$!
  trap 'kill $CASDOOR_PID 2>/dev/null || true' EXIT INT TERM
  for _ in $(seq 1 50); do
    "$BIN/python" - "$CASDOOR_ENDPOINT" <<'PY' && break
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration", timeout=1)
except Exception:
    sys.exit(1)
PY
    sleep 0.2
  done
  echo "Development Casdoor server: $CASDOOR_ENDPOINT (demo users: see devcasdoor/README.md; log in instance/devcasdoor.log)"
fi

"$BIN/flask" db upgrade
"$BIN/flask" users bootstrap
"$BIN/flask" stores bootstrap
echo "Storehouse: http://127.0.0.1:5000"
"$BIN/flask" run --host 127.0.0.1 --port 5000
