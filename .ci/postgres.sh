#!/usr/bin/env bash
# Starts a real PostgreSQL server on loopback for the destination tests (installing it from Debian's
# packages on a fresh machine) and prints the DSN the tests read from KOGNITOS_TEST_POSTGRES.
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  bash "$(dirname "$0")/apt-install.sh" postgresql >&2
fi
read -r version cluster port _ _ data_directory _ < <(pg_lsclusters -h | head -n 1)
if ! pg_isready -q -p "$port"; then
  # A server killed with the machine leaves its postmaster.pid behind. pg_ctlcluster takes the cluster for running
  # when that PID now belongs to any process whose command line says "postgres" (this very script, say), and then
  # starts nothing: a PID that is not a postgres process's makes the file stale.
  pid_file="$data_directory/postmaster.pid"
  if [ -f "$pid_file" ] && [ "$(cat "/proc/$(head -n 1 "$pid_file")/comm" 2>/dev/null)" != postgres ]; then
    rm -f "$pid_file"
  fi
  pg_ctlcluster "$version" "$cluster" start >&2
fi
for _ in $(seq 60); do pg_isready -q -p "$port" && break; sleep 0.5; done
su postgres -c "psql -q -p $port -tc \"SELECT 1 FROM pg_roles WHERE rolname = 'kognitos'\"" | grep -q 1 \
  || su postgres -c "psql -q -p $port -c \"CREATE ROLE kognitos LOGIN SUPERUSER PASSWORD 'kognitos'\"" >&2
echo "postgresql://kognitos:kognitos@127.0.0.1:$port/postgres"
