#!/usr/bin/env bash
# Entrypoint of docker/Dockerfile.postgres (runs as the postgres user).
#
# On first start (an empty $PGDATA) it initialises the cluster the way
# scripts/pg-cluster does for tests: wal_level=logical, room for replication
# slots and walsenders, the mostajs output plugin in output_plugin_libraries
# when the server has that setting (15.19 and later); password (scram-sha-256)
# authentication over TCP from POSTGRES_PASSWORD, peer authentication on the
# local socket. It then creates POSTGRES_DB (when not "postgres") and runs the
# scripts of /docker-entrypoint-initdb.d (MOSTA_INITDB_DIR) in name order against it, on a
# temporary server that listens on no TCP address (so a TCP health check, as
# in docker/compose.yaml, stays unhealthy until this is done):
#   *.sql  run with psql -v ON_ERROR_STOP=1 in POSTGRES_DB
#   *.sh   run with bash, PGDATABASE=POSTGRES_DB exported
# Finally it runs the server in the foreground (exec: the server gets the
# stop signal, SIGINT).
#
# Environment: POSTGRES_PASSWORD (required on first start), POSTGRES_DB
# (default postgres), MOSTA_PG_CONF (extra postgresql.conf lines, first start
# only), and whatever the init scripts read (MOSTA_SIDECAR_PASSWORD).
set -euo pipefail

: "${PGDATA:?PGDATA is not set}"
POSTGRES_DB=${POSTGRES_DB:-postgres}

die() { echo "mostajs-entrypoint: $*" >&2; exit 1; }

[ "$(id -u)" -ne 0 ] || die "run as the postgres user (initdb and postgres refuse root)"

# plugin_libraries_line prints the output_plugin_libraries setting when this
# server has it (as scripts/pg-cluster does): an unknown setting in
# postgresql.conf would stop the server from starting.
# (The list is read whole first: grep -q in a pipeline would stop early and,
# under pipefail, the SIGPIPE of the writer would read as "not found".)
plugin_libraries_line() {
	local settings
	settings=$(postgres --describe-config 2>/dev/null | cut -f1)
	if grep -qx output_plugin_libraries <<<"$settings"; then
		echo "output_plugin_libraries = 'pgoutput, test_decoding, mostajs'"
	fi
}

run_init_scripts() {
	local f
	for f in "${MOSTA_INITDB_DIR:-/docker-entrypoint-initdb.d}"/*; do
		[ -f "$f" ] || continue
		case "$f" in
		*.sql)
			echo "mostajs-entrypoint: running $f"
			psql -X -q -v ON_ERROR_STOP=1 -d "$POSTGRES_DB" -f "$f"
			;;
		*.sh)
			echo "mostajs-entrypoint: running $f"
			PGDATABASE=$POSTGRES_DB bash "$f"
			;;
		*) echo "mostajs-entrypoint: ignoring $f" ;;
		esac
	done
}

first_start() {
	: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD (the password of the postgres role over TCP)}"
	local pwfile
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
		--pwfile="$pwfile" -E UTF8 --locale=C.UTF-8
	rm -f "$pwfile"
	initialised=1
	cat >>"$PGDATA/postgresql.conf" <<-CONF

		# mostajs-entrypoint
		listen_addresses = '*'
		wal_level = logical
		max_wal_senders = 20
		max_replication_slots = 20
		$(plugin_libraries_line)
		${MOSTA_PG_CONF:-}
	CONF
	# "all" matches logical replication connections (they name a database), so
	# the sidecar's replication=database connection needs no "replication" line.
	cat >>"$PGDATA/pg_hba.conf" <<-HBA
		host all all 0.0.0.0/0 scram-sha-256
		host all all ::/0 scram-sha-256
	HBA

	# a temporary server on the local socket only, for the init scripts
	pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w -t 60 start
	export PGHOST=/var/run/postgresql PGUSER=postgres
	if [ "$POSTGRES_DB" != postgres ]; then
		psql -X -q -v ON_ERROR_STOP=1 -d postgres -v db="$POSTGRES_DB" <<-'SQL'
			CREATE DATABASE :"db";
		SQL
	fi
	run_init_scripts
	pg_ctl -D "$PGDATA" -m fast -w -t 60 stop
	unset PGHOST PGUSER
	echo "mostajs-entrypoint: cluster initialised in $PGDATA (database $POSTGRES_DB)"
}

# A first start that fails after initdb (a failing init script, say) empties
# $PGDATA, so that the next start initialises again instead of running a
# cluster without the extension. Nothing is removed when initdb itself failed
# (it refuses a non-empty directory, which may hold someone's data).
initialised=0
failed_first_start() {
	[ "$initialised" = 1 ] || return 0
	pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
	find "$PGDATA" -mindepth 1 -delete
	echo "mostajs-entrypoint: first start failed; $PGDATA emptied, the next start initialises again" >&2
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	trap failed_first_start EXIT
	first_start
	trap - EXIT
fi
exec postgres -D "$PGDATA"
