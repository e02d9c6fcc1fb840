#!/usr/bin/env bash
# Installs Debian packages; reads the package lists first only when installing without doing so fails (a fresh
# machine has none), so the second of CI's installs does not read them again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "$@" 2>/dev/null || { apt-get update -qq && apt-get install -y -qq "$@"; }
