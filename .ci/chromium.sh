#!/usr/bin/env bash
# Installs Debian's Chromium for the report's browser test (tests/report), unless it is there already.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2
fi
/usr/bin/chromium --version >&2
