#!/usr/bin/env bash
# Run once, on the container's first start, after 10-mostajs.sql
# (docker/postgres-entrypoint.sh exports PGHOST, PGUSER and PGDATABASE).
#
# When MOSTA_SIDECAR_PASSWORD is set, creates the login role "sidecar" that
# docker/compose.yaml's sidecar connects as, the way docs/sidecar.md ("The
# sidecar's role") says: REPLICATION for the slots and the stream,
# pg_read_all_data for the replicated tables (those created later too), and
# membership in mosta_sidecar, which CREATE EXTENSION mostajs made with exactly
# the catalog rights the daemon needs.
# Without MOSTA_SIDECAR_PASSWORD nothing is done (point the sidecar at another role).
set -euo pipefail

if [ -z "${MOSTA_SIDECAR_PASSWORD:-}" ]; then
	echo "20-sidecar-role.sh: MOSTA_SIDECAR_PASSWORD is not set; no sidecar login role"
	exit 0
fi

# \getenv keeps the password out of any command line; :'pw' quotes it as a literal.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
\getenv pw MOSTA_SIDECAR_PASSWORD
CREATE ROLE sidecar LOGIN REPLICATION IN ROLE mosta_sidecar, pg_read_all_data PASSWORD :'pw';
SQL
echo "20-sidecar-role.sh: the role sidecar can log in (REPLICATION, pg_read_all_data, mosta_sidecar)"
