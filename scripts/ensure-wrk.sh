#!/usr/bin/env bash
# Install Debian's wrk (the benchmark's load generator) when it is missing and we can.
# Never fails by itself: without wrk, `python -m bench` stops with what to do.
set -u
if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's wrk for the benchmark..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/tmp/storehouse-wrk.log 2>&1 \
    || echo "Could not install wrk (see /tmp/storehouse-wrk.log)."
else
  echo "wrk is not installed and this user cannot apt-get install it: run 'sudo apt-get install wrk'."
fi
exit 0
