#!/usr/bin/env bash
# Initialises the cluster on first start (wal_level=logical, the mostajs
# output plugin allowed, password auth from POSTGRES_PASSWORD), then runs the
# server in the foreground.
set -euo pipefail
bindir=$(pg_config --bindir)
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	"$bindir/initdb" -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 --pwfile="$pwfile" -E UTF8
	rm -f "$pwfile"
	cat >>"$PGDATA/postgresql.conf" <<-CONF
		listen_addresses = '*'
		wal_level = logical
		max_wal_senders = 10
		max_replication_slots = 10
		output_plugin_libraries = 'pgoutput, test_decoding, mostajs'
	CONF
	echo "host all all 0.0.0.0/0 scram-sha-256" >>"$PGDATA/pg_hba.conf"
fi
exec "$bindir/postgres" -D "$PGDATA"
