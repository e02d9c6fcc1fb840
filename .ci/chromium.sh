#!/usr/bin/env bash
# Installs Debian's Chromium for the report's browser test (tests/report), unless it is there already.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  bash "$(dirname "$0")/apt-install.sh" chromium >&2
fi
/usr/bin/chromium --version >&2
