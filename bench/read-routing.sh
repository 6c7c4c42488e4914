#!/usr/bin/env bash
# read-routing.sh: the cost of asking mosta_read_replica() where to read,
# against the anchor of the same choice written as one plain SQL query on the
# same tables (what an application would otherwise run). Prints both rates and
# their ratio; run on a throwaway cluster.
#
# Settings: BENCH_SECONDS (default 10), BENCH_CLIENTS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MOSTA_CLUSTER_DIR:-}" ]; then
	exec scripts/pg-cluster run -- bash "$0" "$@"
fi

seconds=${BENCH_SECONDS:-10}
clients=${BENCH_CLIENTS:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE bench_routing"
export PGDATABASE=bench_routing
psql -qX -o /dev/null -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION mostajs;
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', 'postgresql://app:pw@127.0.0.1/app');
SELECT mosta_add_replica('app', 'slave-' || i, 'slave', 'sqlite', '/tmp/slave-' || i || '.db')
  FROM generate_series(1, 8) i;
INSERT INTO mosta.replica_status (project, replica, status, lag_ms)
SELECT 'app', 'slave-' || i, 'up', (i * 937) % 6000 FROM generate_series(1, 8) i;
SQL

echo "SELECT mosta_read_replica('app');" >"$work/routed.sql"
cat >"$work/anchor.sql" <<'SQL'
SELECT coalesce(
  (SELECT r.name FROM mosta.replicas r JOIN mosta.replica_status s ON s.project = r.project AND s.replica = r.name
    WHERE r.project = 'app' AND r.role = 'slave' AND s.status = 'up' AND s.lag_ms <= r.lag_tolerance_ms
      AND s.last_seen >= now() - interval '30 seconds'
    ORDER BY s.lag_ms, r.name LIMIT 1),
  (SELECT name FROM mosta.replicas WHERE project = 'app' AND role = 'master'));
SQL

tps() { pgbench -n -M prepared -c "$clients" -j "$clients" -T "$seconds" -f "$1" 2>/dev/null |
	sed -n 's/^tps = \([0-9.]*\).*/\1/p'; }
anchor=$(tps "$work/anchor.sql")
routed=$(tps "$work/routed.sql")
printf 'plain query (anchor)      %10.0f calls/s\n' "$anchor"
printf 'mosta_read_replica()      %10.0f calls/s\n' "$routed"
awk -v r="$routed" -v a="$anchor" 'BEGIN { printf "ratio routed/anchor       %10.2f\n", r / a }'
