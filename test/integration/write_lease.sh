#!/usr/bin/env bash
# write_lease.sh: the in-server write lease of automatic failover (issue 17; sql/parts/80_write_lease.sql,
# extension/src/ha/write_lease.cpp; docs/sql-api.md, "Write lease"). It starts its own cluster (scripts/pg-cluster
# start) with shared_preload_libraries = 'mostajs' and mostajs.write_lease = on (the cluster of scripts/pg-cluster
# run, if any, is not used: it does not preload mostajs), then checks, each step on a fresh session:
#   1. before any grant: the state says enforced, preloaded, not granted; a write (CREATE EXTENSION, then an INSERT)
#      is refused at COMMIT with 25006 and the message, detail and hint of the spec, and nothing of it is kept;
#      a read-only transaction commits;
#   2. mostajs.write_lease = off (ALTER SYSTEM + reload, no transaction id: allowed): writes commit without a lease;
#      the state says not enforced;
#   3. a grant until now + 60 s (now from mosta_write_lease_state().now_boottime_us): writes commit; a grant more
#      than 1 hour ahead is refused (22023);
#   4. a short grant: once the state's remaining_ms is negative (polled with a deadline) writes are refused again
#      ("expired N ms ago"), and so is PREPARE TRANSACTION (nothing prepared);
#   5. revoke: a write refused at once ("was revoked");
#   6. ANALYZE by a client is a write (it writes pg_statistic: a transaction id) and is refused while the lease is
#      not valid; a plain VACUUM by a client (in-place updates, no transaction id) is not; autovacuum's ANALYZE
#      (not a client backend) is never refused: with the lease revoked it fills pg_statistic (of another table,
#      written while autovacuum was off);
#   7. pg_ctl restart: the lease is gone (never granted since the start): writes refused (fail closed);
#   8. a streaming standby of it (scripts/pg-cluster standby, the same settings): the functions answer there, a
#      grant before pg_promote() makes the first write after the promotion commit at once.
# Every wait polls with a deadline. Every server it starts is stopped on exit (trap).
# Prints "write_lease: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init write_lease
bindir=$("${PG_CONFIG:-pg_config}" --bindir)

primary_dir=
standby_dir=
cleanup() {
	[ -n "$standby_dir" ] && scripts/pg-cluster stop "$standby_dir" >/dev/null 2>&1
	[ -n "$primary_dir" ] && scripts/pg-cluster stop "$primary_dir" >/dev/null 2>&1
	return 0
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# autovacuum starts off so that step 6 decides when it may analyze; naptime 1 s so that it does so soon after
out=$(MOSTA_PG_CONF=$'shared_preload_libraries = \'mostajs\'\nmostajs.write_lease = on\nautovacuum = off\nautovacuum_naptime = 1' \
	scripts/pg-cluster start) || fail_setup "the preloaded cluster did not start"
primary_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
port=$(env_value "$out" PGPORT)

# on PORT SQL: the first value of the query on that server, empty on error.
on() { psql -X -At -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2" 2>/dev/null; }
# error_on PORT SQL...: runs the statements in one session (stopping at the first error) and prints psql's verbose
# error lines (ERROR with the SQLSTATE, DETAIL, HINT); nothing when every statement succeeded.
error_on() {
	local p=$1 args=()
	shift
	for sql in "$@"; do args+=(-c "$sql"); done
	psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p "$p" -U postgres -d postgres \
		"${args[@]}" 2>&1 >/dev/null | grep -E '^(ERROR|DETAIL|HINT):'
}
state_on() { on "$1" "SELECT concat_ws(' ', enforced, preloaded, granted, coalesce(remaining_ms::text, 'null'))
                      FROM mosta_write_lease_state()"; }
now_us() { on "$1" "SELECT now_boottime_us FROM mosta_write_lease_state()"; }
rows() { on "$port" "SELECT count(*) FROM t"; }
# server_ctl DIR ARG...: pg_ctl on the cluster in DIR, as the server's user (scripts/pg-cluster's rule).
server_ctl() {
	local dir=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 "$@")
	else
		"$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 "$@"
	fi
}
setting_is() { [ "$(on "$port" "SHOW mostajs.write_lease")" = "$1" ]; }
# set_lease_setting on|off: ALTER SYSTEM + reload, then waits until a new session sees it.
set_lease_setting() {
	local sql="ALTER SYSTEM SET mostajs.write_lease = $1"
	[ "$1" = on ] && sql="ALTER SYSTEM RESET mostajs.write_lease"
	on "$port" "$sql" >/dev/null
	on "$port" "SELECT pg_reload_conf()" >/dev/null
	poll_until 30 setting_is "$1"
}

never_msg="ERROR:  25006: cannot commit: this node's write lease has not been granted since the server started"
detail="DETAIL:  mostajs.write_lease is on: a transaction that writes commits only while the node agent holds the project's leader key in the DCS."
hint="HINT:  Another node may be the primary now: reconnect with target_session_attrs=read-write (docs/ha.md)."
# refused_with OUTPUT FIRST_LINE_REGEX: the error is 25006 with that message and the spec's detail and hint.
refused_with() {
	[[ "$(sed -n 1p <<<"$1")" =~ $2 ]] && [ "$(sed -n 2p <<<"$1")" = "$detail" ] &&
		[ "$(sed -n 3p <<<"$1")" = "$hint" ]
}

# --- 1. before any grant --------------------------------------------------------------------------------------------
# the library is preloaded, the extension not yet created: the commit is refused all the same
err=$(error_on "$port" "CREATE EXTENSION mostajs")
if refused_with "$err" "^$never_msg\$" && [ "$(on "$port" "SELECT count(*) FROM pg_extension WHERE extname = 'mostajs'")" = 0 ]; then
	ok "before any grant, CREATE EXTENSION is refused at COMMIT with 25006, the message, detail and hint of the spec"
else
	not_ok "before any grant, CREATE EXTENSION is refused at COMMIT with 25006 (got: $err)"
fi

# --- 2. mostajs.write_lease = off ------------------------------------------------------------------------------------
set_lease_setting off || fail_setup "mostajs.write_lease = off was not taken by a reload"
if [ -z "$(error_on "$port" "CREATE EXTENSION mostajs" "CREATE TABLE t (id int PRIMARY KEY)" \
	"INSERT INTO t SELECT generate_series(1, 100)" "CREATE TABLE u (id int PRIMARY KEY)" \
	"INSERT INTO u SELECT generate_series(1, 100)")" ] && [ "$(rows)" = 100 ]; then
	ok "with mostajs.write_lease = off, writes commit without a lease"
else
	not_ok "with mostajs.write_lease = off, writes commit without a lease"
fi
state=$(state_on "$port")
[ "$state" = "f t f null" ] && ok "state with the setting off: not enforced, preloaded, never granted" ||
	not_ok "state with the setting off: not enforced, preloaded, never granted (got: $state)"
set_lease_setting on || fail_setup "mostajs.write_lease = on was not taken by a reload"

state=$(state_on "$port")
[ "$state" = "t t f null" ] && ok "state before any grant: enforced, preloaded, not granted, remaining_ms NULL" ||
	not_ok "state before any grant: enforced, preloaded, not granted, remaining_ms NULL (got: $state)"
err=$(error_on "$port" "INSERT INTO t VALUES (101)")
if refused_with "$err" "^$never_msg\$" && [ "$(rows)" = 100 ]; then
	ok "before any grant, an INSERT is refused at COMMIT with 25006 and the spec's texts; the row is not there"
else
	not_ok "before any grant, an INSERT is refused at COMMIT with 25006 (got: $err; rows $(rows))"
fi
err=$(error_on "$port" "BEGIN" "SELECT count(*) FROM t" "SELECT * FROM mosta_write_lease_state()" "COMMIT")
[ -z "$err" ] && ok "a read-only transaction commits without a lease" ||
	not_ok "a read-only transaction commits without a lease (got: $err)"

# --- 3. a grant -----------------------------------------------------------------------------------------------------
remaining=$(on "$port" "SELECT mosta_write_lease_grant(now_boottime_us + 60000000) FROM mosta_write_lease_state()")
[[ "$remaining" =~ ^[0-9]+$ ]] && [ "$remaining" -gt 0 ] && [ "$remaining" -le 60000 ] &&
	ok "a grant until now + 60 s returns the milliseconds left ($remaining)" ||
	not_ok "a grant until now + 60 s returns the milliseconds left (got: $remaining)"
err=$(error_on "$port" "INSERT INTO t VALUES (101)" "BEGIN" "UPDATE t SET id = id + 1000 WHERE id = 1" "COMMIT")
[ -z "$err" ] && [ "$(rows)" = 101 ] && [ "$(on "$port" "SELECT count(*) FROM t WHERE id = 1001")" = 1 ] &&
	ok "with a valid lease, writes commit" || not_ok "with a valid lease, writes commit (got: $err)"
state=$(state_on "$port")
[[ "$state" =~ ^"t t t "[0-9]+$ ]] && ok "state with a valid lease: granted, remaining_ms positive" ||
	not_ok "state with a valid lease: granted, remaining_ms positive (got: $state)"
err=$(error_on "$port" "SELECT mosta_write_lease_grant(now_boottime_us + 3700000000) FROM mosta_write_lease_state()")
[[ "$err" =~ ^"ERROR:  22023: write lease deadline "[0-9]+" is more than 1 hour ahead" ]] &&
	ok "a grant more than 1 hour ahead is refused with 22023" ||
	not_ok "a grant more than 1 hour ahead is refused with 22023 (got: $err)"

# --- 4. expiry ------------------------------------------------------------------------------------------------------
on "$port" "SELECT mosta_write_lease_grant(now_boottime_us + 300000) FROM mosta_write_lease_state()" >/dev/null
expired() { [[ "$(on "$port" "SELECT remaining_ms FROM mosta_write_lease_state()")" =~ ^- ]]; }
poll_until 30 expired || not_ok "a 300 ms lease expired within 30 s"
err=$(error_on "$port" "INSERT INTO t VALUES (102)")
refused_with "$err" "^ERROR:  25006: cannot commit: this node's write lease expired [0-9]+ ms ago\$" &&
	[ "$(rows)" = 101 ] && ok "once the lease expired, an INSERT is refused with 25006 (expired N ms ago)" ||
	not_ok "once the lease expired, an INSERT is refused with 25006 (got: $err)"
[ "$(state_on "$port" | cut -d' ' -f3)" = f ] && ok "state after expiry: not granted" ||
	not_ok "state after expiry: not granted"
err=$(error_on "$port" "BEGIN" "INSERT INTO t VALUES (103)" "PREPARE TRANSACTION 'wl_expired'")
refused_with "$err" "^ERROR:  25006: cannot commit: this node's write lease expired [0-9]+ ms ago\$" &&
	[ "$(on "$port" "SELECT count(*) FROM pg_prepared_xacts")" = 0 ] &&
	ok "once the lease expired, PREPARE TRANSACTION is refused with 25006; nothing is prepared" ||
	not_ok "once the lease expired, PREPARE TRANSACTION is refused with 25006 (got: $err)"

# --- 5. revoke ------------------------------------------------------------------------------------------------------
on "$port" "SELECT mosta_write_lease_grant(now_boottime_us + 60000000) FROM mosta_write_lease_state()" >/dev/null
err=$(error_on "$port" "INSERT INTO t VALUES (104)" "SELECT mosta_write_lease_revoke()" "INSERT INTO t VALUES (105)")
refused_with "$err" "^ERROR:  25006: cannot commit: this node's write lease was revoked\$" &&
	[ "$(on "$port" "SELECT string_agg(id::text, ',' ORDER BY id) FROM t WHERE id > 100")" = 101,104,1001 ] &&
	ok "revoke refuses the next write at once (the one before it committed)" ||
	not_ok "revoke refuses the next write at once (got: $err)"

# --- 6. VACUUM, ANALYZE, autovacuum ---------------------------------------------------------------------------------
stats() { on "$port" "SELECT count(*) FROM pg_stats WHERE tablename = '${1:-t}'"; }
err=$(error_on "$port" "ANALYZE t")
refused_with "$err" "^ERROR:  25006: cannot commit: this node's write lease was revoked\$" && [ "$(stats)" = 0 ] &&
	ok "a client's ANALYZE is a write (pg_statistic): refused while the lease is revoked, no statistics kept" ||
	not_ok "a client's ANALYZE is refused while the lease is revoked (got: $err; pg_stats rows $(stats))"
err=$(error_on "$port" "VACUUM t")
[ -z "$err" ] && ok "a client's plain VACUUM (no transaction id) runs while the lease is revoked" ||
	not_ok "a client's plain VACUUM runs while the lease is revoked (got: $err)"
on "$port" "ALTER SYSTEM SET autovacuum = on" >/dev/null && on "$port" "SELECT pg_reload_conf()" >/dev/null
# on u, not t: the refused ANALYZE above already reset t's count of changes since the last analyze (PostgreSQL
# keeps that count outside the transaction), so autovacuum would see no reason to analyze t
analyzed() { [ "$(stats u)" -gt 0 ] 2>/dev/null; }
if poll_until 60 analyzed && [ "$(state_on "$port" | cut -d' ' -f3)" = f ]; then
	ok "autovacuum's ANALYZE commits while the lease is revoked (pg_stats has u's column)"
else
	not_ok "autovacuum's ANALYZE commits while the lease is revoked (pg_stats rows for u: $(stats u))"
fi

# --- 7. restart -----------------------------------------------------------------------------------------------------
on "$port" "SELECT mosta_write_lease_grant(now_boottime_us + 60000000) FROM mosta_write_lease_state()" >/dev/null
[ -z "$(error_on "$port" "INSERT INTO t VALUES (106)")" ] || not_ok "a write commits before the restart"
if server_ctl "$primary_dir" -m fast restart >/dev/null; then
	state=$(state_on "$port")
	err=$(error_on "$port" "INSERT INTO t VALUES (107)")
	[ "$state" = "t t f null" ] && refused_with "$err" "^$never_msg\$" &&
		[ "$(on "$port" "SELECT count(*) FROM t WHERE id IN (106, 107)")" = 1 ] &&
		ok "after pg_ctl restart the lease is gone (never granted since the start) and writes are refused" ||
		not_ok "after pg_ctl restart writes are refused (state: $state; got: $err)"
else
	not_ok "pg_ctl restart"
fi

# --- 8. a standby, granted before its promotion ---------------------------------------------------------------------
out=$(scripts/pg-cluster standby "$primary_dir") || fail_setup "the standby did not start"
standby_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
sport=$(env_value "$out" PGPORT)
state=$(state_on "$sport")
[ "$state" = "t t f null" ] && ok "on a standby: the state answers (enforced, preloaded, never granted)" ||
	not_ok "on a standby: the state answers (got: $state)"
remaining=$(on "$sport" "SELECT mosta_write_lease_grant(now_boottime_us + 60000000) FROM mosta_write_lease_state()")
[[ "$remaining" =~ ^[0-9]+$ ]] && [ "$remaining" -gt 0 ] && ok "on a standby: a grant is taken ($remaining ms left)" ||
	not_ok "on a standby: a grant is taken (got: $remaining)"
if [ "$(on "$sport" "SELECT pg_promote(true, 60)")" = t ]; then
	err=$(error_on "$sport" "INSERT INTO t VALUES (108)")
	[ -z "$err" ] && [ "$(on "$sport" "SELECT count(*) FROM t WHERE id = 108")" = 1 ] &&
		ok "granted before pg_promote(), the first write after the promotion commits at once" ||
		not_ok "granted before pg_promote(), the first write after the promotion commits at once (got: $err)"
else
	not_ok "pg_promote() on the standby"
fi

finish
