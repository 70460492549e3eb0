#!/usr/bin/env bash
# `make run`: upgrade the database, bootstrap a first admin and store, start the
# development Casdoor server (unless CASDOOR_ENDPOINT points at a real one) and
# serve Storehouse on http://127.0.0.1:$PORT (5000).
#
# Ports: PORT (Storehouse, default 5000) and DEV_CASDOOR_PORT (the development
# Casdoor, default 8000). Both are checked before anything starts: with a port
# taken, the script says which process holds it and stops, instead of going on
# against whatever answers there.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export FLASK_APP=wsgi
PORT="${PORT:-5000}"
DEV_CASDOOR_PORT="${DEV_CASDOOR_PORT:-8000}"

# Exit 0 when nothing listens on 127.0.0.1:$1 (SO_REUSEADDR: connections of a
# server that just stopped, in TIME_WAIT, do not count; a listener does).
port_is_free() {
  "$BIN/python" - "$1" <<'PY'
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    sock.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    sock.close()
PY
}

# What listens on port $1, in one line: "python3 (pid 1234)", or the raw ss/lsof line.
port_holder() {
  local port=$1 line=""
  if command -v ss >/dev/null 2>&1; then
    line=$(ss -ltnpH "sport = :$port" 2>/dev/null | head -n 1 || true)
    if [[ $line =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
      echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
      return
    fi
  fi
  if command -v lsof >/dev/null 2>&1; then
    line=$(lsof -nP -iTCP:"$port" -sTCP:LISTEN 2>/dev/null | awk 'NR==2 {print $1 " (pid " $2 ")"}' || true)
    if [ -n "$line" ]; then
      echo "$line"
      return
    fi
  fi
  echo "another process (run 'sudo ss -ltnp \"sport = :$port\"' to see which)"
}

# Stop with a message when port $1 (for $2, chosen by variable $3) is taken.
require_free_port() {
  local port=$1 what=$2 variable=$3
  if ! [[ $port =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    echo "$variable=$port is not a port number (1-65535)." >&2
    exit 1
  fi
  if ! port_is_free "$port"; then
    echo "Port $port ($what) is already in use by $(port_holder "$port")." >&2
    echo "Stop that process, or choose another port: $variable=$((port + 1)) make run" >&2
    exit 1
  fi
}

require_free_port "$PORT" "Storehouse" PORT
# Absolute URLs (the Casdoor redirect URI) are built on PUBLIC_URL, never on the
# Host header a browser sends: set it to the address this script serves.
export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$PORT}"
if [ -z "${CASDOOR_ENDPOINT:-}" ]; then
  if [ "$PORT" = "$DEV_CASDOOR_PORT" ]; then
    echo "PORT and DEV_CASDOOR_PORT are both $PORT: give Storehouse and the development Casdoor different ports." >&2
    exit 1
  fi
  require_free_port "$DEV_CASDOOR_PORT" "the development Casdoor server" DEV_CASDOOR_PORT

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
  ready=""
  for _ in $(seq 1 50); do
    # Ours must still be running: an answer from another server proves nothing.
    kill -0 "$CASDOOR_PID" 2>/dev/null || break
    if "$BIN/python" - "$CASDOOR_ENDPOINT" <<'PY'
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1] + "/.well-known/openid-configuration", timeout=1)
except Exception:
    sys.exit(1)
PY
    then
      ready=yes
      break
    fi
    sleep 0.2
  done
  if [ -z "$ready" ] || ! kill -0 "$CASDOOR_PID" 2>/dev/null; then
    echo "The development Casdoor server did not start on port $DEV_CASDOOR_PORT; its log (instance/devcasdoor.log) ends with:" >&2
    tail -n 5 instance/devcasdoor.log >&2 || true
    exit 1
  fi
  # A small demo price for the local model, so the first answer shows a charge in Casdoor.
  export BILLING_DEMO_LOCAL_PRICES="${BILLING_DEMO_LOCAL_PRICES:-20/80}"
  echo "Development Casdoor server: $CASDOOR_ENDPOINT (demo users: see devcasdoor/README.md; log in instance/devcasdoor.log)"
fi

"$BIN/flask" db upgrade
"$BIN/flask" users bootstrap
"$BIN/flask" stores bootstrap
"$BIN/flask" billing demo-price
echo "Storehouse: $PUBLIC_URL (listening on 127.0.0.1:$PORT)"
"$BIN/flask" run --host 127.0.0.1 --port "$PORT"
