#!/usr/bin/env bash
# Starts a real PostgreSQL server on loopback for the destination tests (installing it from Debian's
# packages on a fresh machine) and prints the DSN the tests read from KOGNITOS_TEST_POSTGRES.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  bash "$(dirname "$0")/apt-install.sh" postgresql >&2
fi
read -r version cluster port _ < <(pg_lsclusters -h | head -n 1)
pg_ctlcluster "$version" "$cluster" start >&2 2>&1 || pg_lsclusters -h | grep -q online
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_roles WHERE rolname = 'kognitos'\"" | grep -q 1 \
  || su postgres -c "psql -q -p $port -c \"CREATE ROLE kognitos LOGIN SUPERUSER PASSWORD 'kognitos'\"" >&2
echo "postgresql://kognitos:kognitos@127.0.0.1:$port/postgres"
