#!/usr/bin/env bash
# Run once, on the container's first start, after 10-mostajs.sql
# (docker/postgres-entrypoint.sh exports PGHOST, PGUSER and PGDATABASE).
#
# When MOSTA_SIDECAR_PASSWORD is set, makes mosta_sidecar a login role that
# docker/compose.yaml's sidecar connects as (created here, or, when the
# extension already made it, given LOGIN and the password), with what
# docs/sidecar.md says the sidecar's role needs:
#   REPLICATION                  the replication slots and the stream
#   pg_read_all_data             SELECT on the replicated tables (those created later too)
#   mosta_admin                  read the mosta catalog; mosta_heartbeat(), mosta.snapshot_documents()
#   SELECT, INSERT, UPDATE, DELETE on the status tables the sidecar writes, INSERT on mosta.activity
# Grants the extension already gives are harmless to repeat. Keep the table
# list in step with what sidecar/src/app/catalog.cpp writes.
# Without MOSTA_SIDECAR_PASSWORD nothing is done (point the sidecar at another role).
set -euo pipefail

if [ -z "${MOSTA_SIDECAR_PASSWORD:-}" ]; then
	echo "20-sidecar-role.sh: MOSTA_SIDECAR_PASSWORD is not set; no mosta_sidecar login role"
	exit 0
fi

# \getenv keeps the password out of any command line; :'pw' quotes it as a literal.
psql -X -q -v ON_ERROR_STOP=1 <<'SQL'
DO $$
DECLARE
	t text;
	seq text;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mosta_sidecar') THEN
		CREATE ROLE mosta_sidecar NOLOGIN;
	END IF;
	FOREACH t IN ARRAY ARRAY['mosta.rule_stats', 'mosta.target_status', 'mosta.replica_status'] LOOP
		IF pg_catalog.to_regclass(t) IS NOT NULL THEN
			EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO mosta_sidecar', t);
		END IF;
	END LOOP;
	IF pg_catalog.to_regclass('mosta.activity') IS NOT NULL THEN
		GRANT INSERT ON mosta.activity TO mosta_sidecar;
		seq := pg_catalog.pg_get_serial_sequence('mosta.activity', 'id');
		IF seq IS NOT NULL THEN
			EXECUTE pg_catalog.format('GRANT USAGE ON SEQUENCE %s TO mosta_sidecar', seq);
		END IF;
	END IF;
END
$$;
\getenv pw MOSTA_SIDECAR_PASSWORD
ALTER ROLE mosta_sidecar LOGIN REPLICATION PASSWORD :'pw';
GRANT mosta_admin TO mosta_sidecar;
GRANT pg_read_all_data TO mosta_sidecar;
SQL
echo "20-sidecar-role.sh: mosta_sidecar can log in (REPLICATION, pg_read_all_data, mosta_admin)"
