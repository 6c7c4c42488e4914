# shellcheck shell=bash
# tap.sh: what the integration scripts share, sourced (not run: it lives
# outside the test/integration/*.sh glob scripts/run-decoding-tests runs).
#
#   tap_init NAME            counters and the name the summary line carries
#   ok / not_ok DESCRIPTION  one result line each
#   finish                   "NAME: N passed, N failed", exit non-zero on failure
#   require_cluster [VAR...] fail clearly unless PGHOST/PGPORT/PGUSER (and VARs) are set
#   poll_until SECONDS CMD   run CMD until it succeeds or SECONDS pass
#   require_sidecar          set BINARY to the mosta-sidecar to test (MOSTA_SIDECAR_BIN,
#                            MOSTA_SIDECAR, else build/sidecar/mosta-sidecar) and check it exists
#   require_pymongo          set python to Debian's /usr/bin/python3 and check it has pymongo (python3-pymongo)
#   require_test_mongod      set MONGOD_BINARY to the MongoDB-wire test server (MOSTA_TEST_MONGOD_BIN,
#                            else build/test/support/mosta-test-mongod) and check it exists
#   start_mongo_target DB    the MongoDB a test writes to: MOSTA_TEST_MONGO_URI (a real mongod,
#                            "mongodb://host:port" without a path; DB dropped first) when set, else
#                            mosta-test-mongod on a free port (its pid in $server, its port in $port);
#                            sets mongo_uri (.../DB) and mongo_external (1 for a real server)
#
# For the scripts that test mosta-sidecar in a database of their own:
#   use_database NAME        db=NAME, work=a new temporary directory (exported as MOSTA_DATA_DIR, the
#                            sidecar's data directory: file targets go under it), daemon= (no daemon yet);
#                            creates the database (not_ok "createdb NAME" and finish if it cannot);
#                            on exit (EXIT trap; INT and TERM exit 1): kill -9 $daemon if set,
#                            the script's cleanup_extra if it defines one (its other processes,
#                            settings, databases, roles), drop the database's inactive replication
#                            slots, drop the database, remove $work
#   psql_db [ARG...]         psql on $db, quiet, stopping at the first error
#   scalar SQL               the query's result, unaligned; an error prints nothing
#   scalar_or_error SQL      the same, but an error prints psql's message in place of the value
#   run_once LABEL [ARG...]  "mosta-sidecar --once" on $db (log in $work/log.LABEL), one result:
#                            "mosta-sidecar --once (LABEL) exits 0"; the log is echoed, indented
#   stop_daemon DESCRIPTION  SIGTERM to $daemon, waits up to 30 s, one result: DESCRIPTION when it
#                            exited 0 (else not_ok, with $work/log.daemon's tail); clears daemon

tap_init() {
	tap_name=$1
	passed=0
	failed=0
}

ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

finish() {
	echo "$tap_name: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# fail_setup MESSAGE: the test cannot run at all; counts as a failure.
fail_setup() {
	echo "$tap_name: $*" >&2
	failed=1
	finish
}

require_cluster() {
	local variable
	for variable in PGHOST PGPORT PGUSER "$@"; do
		[ -n "${!variable:-}" ] || fail_setup "$variable is not set: run under scripts/pg-cluster run"
	done
}

# env_value OUTPUT NAME: the value of "export NAME=..." in scripts/pg-cluster's output.
env_value() { sed -n "s/^export $2=//p" <<<"$1"; }

# start_standby NAME DIR_VAR PORT_VAR: starts a streaming standby of $MOSTA_CLUSTER_DIR (scripts/pg-cluster standby)
# whose cluster_name, the application_name the primary's synchronous_standby_names names, is NAME, and sets the
# variables named DIR_VAR and PORT_VAR to its directory and port; the test stops it (scripts/pg-cluster stop DIR in
# its cleanup_extra). A standby that cannot start fails the setup.
start_standby() {
	local out
	out=$(MOSTA_CLUSTER_NAME=$1 scripts/pg-cluster standby "$MOSTA_CLUSTER_DIR") ||
		fail_setup "scripts/pg-cluster standby ($1) failed"
	printf -v "$2" '%s' "$(env_value "$out" MOSTA_CLUSTER_DIR)"
	printf -v "$3" '%s' "$(env_value "$out" PGPORT)"
}

require_sidecar() {
	BINARY=${MOSTA_SIDECAR_BIN:-${MOSTA_SIDECAR:-build/sidecar/mosta-sidecar}}
	[ -x "$BINARY" ] || fail_setup "$BINARY not found: build it with cmake -S . -B build && cmake --build build -j2"
}

require_pymongo() {
	python=/usr/bin/python3 # Debian's, which python3-pymongo installs into
	"$python" -c 'import pymongo' 2>/dev/null || fail_setup "python3-pymongo is not installed (scripts/install-deps)"
}

require_test_mongod() {
	MONGOD_BINARY=${MOSTA_TEST_MONGOD_BIN:-build/test/support/mosta-test-mongod}
	[ -x "$MONGOD_BINARY" ] || fail_setup "$MONGOD_BINARY not found: build it with cmake -S . -B build && cmake --build build -j2"
}

start_mongo_target() {
	if [ -n "${MOSTA_TEST_MONGO_URI:-}" ]; then
		mongo_external=1
		mongo_uri="${MOSTA_TEST_MONGO_URI%/}/$1"
		/usr/bin/python3 -c 'import sys, pymongo; pymongo.MongoClient(sys.argv[1]).drop_database(sys.argv[2])' \
			"$MOSTA_TEST_MONGO_URI" "$1" || fail_setup "cannot reach MOSTA_TEST_MONGO_URI"
		echo "# against MOSTA_TEST_MONGO_URI"
		return
	fi
	mongo_external=0
	"$MONGOD_BINARY" --port 0 >"$work/mongod.out" 2>"$work/mongod.err" &
	server=$!
	mongod_listening() { grep -qs 'listening on .*:[0-9]' "$work/mongod.out" && [ -z "$(tail -c 1 "$work/mongod.out")" ]; }
	poll_until 20 mongod_listening || fail_setup "mosta-test-mongod did not start: $(cat "$work/mongod.err")"
	port=$(sed -n 's/.*listening on 127\.0\.0\.1://p' "$work/mongod.out" | head -1)
	mongo_uri="mongodb://127.0.0.1:$port/$1"
}

# poll_until SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds (0) or SECONDS pass (1).
poll_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
}

# The per-database scaffolding of the sidecar scripts (see the list at the top).
use_database() {
	db=$1
	work=$(mktemp -d)
	# file targets live under the data directory (mosta-sidecar --data-dir): the test's own
	export MOSTA_DATA_DIR=$work
	daemon=
	trap tap_cleanup EXIT
	trap 'exit 1' INT TERM
	createdb "$db" || { not_ok "createdb $db"; finish; }
}

tap_cleanup() {
	[ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
	if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
	psql -X -q -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$db' AND NOT active" >/dev/null 2>&1
	dropdb --if-exists "$db" >/dev/null 2>&1
	rm -rf "$work"
}

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
scalar() { psql -X -At -d "$db" -c "$1" 2>/dev/null; }
scalar_or_error() { psql -X -At -d "$db" -c "$1" 2>&1; }

run_once() {
	local label=$1
	shift
	if PGDATABASE=$db "$BINARY" --once --status-interval 1s "$@" 2>"$work/log.$label"; then
		ok "mosta-sidecar --once ($label) exits 0"
		sed 's/^/    /' "$work/log.$label"
	else
		not_ok "mosta-sidecar --once ($label) exits 0"
		cat "$work/log.$label" >&2
	fi
}

daemon_gone() { ! kill -0 "$daemon" 2>/dev/null; }

stop_daemon() {
	local description=$1
	kill -TERM "$daemon"
	if ! poll_until 30 daemon_gone; then
		not_ok "$description (still running after 30 s)"
		kill -9 "$daemon"
		wait "$daemon" 2>/dev/null
		tail -20 "$work/log.daemon" >&2
	elif wait "$daemon"; then
		ok "$description"
	else
		not_ok "$description"
		tail -20 "$work/log.daemon" >&2
	fi
	daemon=
}
