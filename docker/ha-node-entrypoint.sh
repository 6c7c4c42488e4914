#!/usr/bin/env bash
# Entrypoint of docker/Dockerfile.node (runs as the postgres user): one node of
# an automatically failed-over project (docs/ha.md, docker/compose-ha.yaml).
#
# On an empty volume it makes the node's data directory:
#   - the bootstrap node (MOSTA_NODE = MOSTA_BOOTSTRAP_NODE): initdb with the
#     settings the write lease and rewinds need (shared_preload_libraries =
#     'mostajs', mostajs.write_lease = on, wal_log_hints = on), the database,
#     the extension and the project's replicas (every node of MOSTA_NODES, a
#     postgres replica with lag_tolerance_ms 0: only a synchronous standby is
#     promoted automatically);
#   - any other node: a base backup of the bootstrap node once it answers,
#     as its standby (application_name = the node's name, which
#     synchronous_standby_names and the lag gate match).
# Then it runs the node agent in the foreground: the agent starts the server
# (as the primary only while it holds the project's leader key in etcd) and
# owns it from then on.
#
# Environment: MOSTA_NODE, MOSTA_NODES (node1,node2,node3),
# MOSTA_BOOTSTRAP_NODE (default: the first of MOSTA_NODES), MOSTA_PROJECT
# (default app), MOSTA_DCS (etcd://...), MOSTA_SYNCHRONOUS (default on),
# MOSTA_DCS_TTL (default 10s), POSTGRES_DB (default app), POSTGRES_PASSWORD
# (the postgres role's password: written to ~/.pgpass, mode 0600, the libpq
# passfile every node connects to the others with; never on a command line).
set -euo pipefail

die() { echo "mostajs-ha-node: $*" >&2; exit 1; }

: "${PGDATA:?PGDATA is not set}"
: "${MOSTA_NODE:?set MOSTA_NODE to the replica name of this node}"
: "${MOSTA_NODES:?set MOSTA_NODES to every node, comma-separated}"
: "${MOSTA_DCS:?set MOSTA_DCS to etcd://host:port,.../prefix}"
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
project=${MOSTA_PROJECT:-app}
db=${POSTGRES_DB:-app}
bootstrap=${MOSTA_BOOTSTRAP_NODE:-${MOSTA_NODES%%,*}}
state=/var/lib/postgresql/agent
[ "$(id -u)" -ne 0 ] || die "run as the postgres user"

umask 077
printf '*:5432:*:postgres:%s\n' "$POSTGRES_PASSWORD" >"$HOME/.pgpass"
mkdir -p "$state"

conninfo() { echo "host=$1 port=5432 dbname=$db user=postgres connect_timeout=3"; }

init_bootstrap() {
	local pwfile
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
	initdb -D "$PGDATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 --pwfile="$pwfile" \
		-E UTF8 --locale=C.UTF-8
	rm -f "$pwfile"
	cat >>"$PGDATA/postgresql.conf" <<-CONF

		# mostajs-ha-node
		listen_addresses = '*'
		wal_level = logical
		wal_log_hints = on
		hot_standby = on
		max_wal_senders = 20
		max_replication_slots = 20
		shared_preload_libraries = 'mostajs'
		mostajs.write_lease = on
	CONF
	echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" -l "$state/postgres.log" start
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$db\""
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION mostajs"
	local node role
	for node in ${MOSTA_NODES//,/ }; do
		role=slave
		[ "$node" = "$bootstrap" ] && role=master
		psql -X -q -v ON_ERROR_STOP=1 -d "$db" -v p="$project" -v n="$node" -v r="$role" -v u="$(conninfo "$node")" \
			-c "SELECT mosta_add_replica(:'p', :'n', :'r', 'postgres', :'u', lag_tolerance_ms => 0)"
	done
	pg_ctl -D "$PGDATA" -w stop
}

init_standby() {
	echo "mostajs-ha-node: waiting for $bootstrap to take a base backup"
	until pg_isready -q -h "$bootstrap" -p 5432; do
		sleep 1 # waiting for another container, not a test
	done
	pg_basebackup -h "$bootstrap" -p 5432 -U postgres -D "$PGDATA" -X stream -c fast
	touch "$PGDATA/standby.signal"
	echo "primary_conninfo = 'host=$bootstrap port=5432 user=postgres application_name=$MOSTA_NODE'" \
		>>"$PGDATA/postgresql.auto.conf"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ "$MOSTA_NODE" = "$bootstrap" ]; then init_bootstrap; else init_standby; fi
fi

exec mosta-sidecar agent --node "$MOSTA_NODE" --project "$project" --pgdata "$PGDATA" --state-dir "$state" \
	--pg-log "$state/postgres.log" --source "host=/var/run/postgresql dbname=$db user=postgres" \
	--dcs "$MOSTA_DCS" --dcs-ttl "${MOSTA_DCS_TTL:-10s}" --synchronous "${MOSTA_SYNCHRONOUS:-on}"
