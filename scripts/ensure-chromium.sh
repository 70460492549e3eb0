#!/usr/bin/env bash
# Install Debian's chromium for the browser tests when it is missing and we can.
# Never fails the build: when it cannot be installed the browser tests report
# themselves as skipped, with this reason, instead of passing silently.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/tmp/storehouse-chromium.log 2>&1 \
    || echo "Could not install chromium (see /tmp/storehouse-chromium.log); browser tests will be skipped."
else
  echo "chromium is not installed and this user cannot apt-get install it; browser tests will be skipped."
fi
exit 0
