#!/usr/bin/env bash
# pg_target.sh: a PostgreSQL database as a cdc target (sink/pg_sink.hpp). The source is the cluster of
# PGHOST/PGPORT/PGUSER (scripts/pg-cluster run), the target a second throwaway cluster (scripts/pg-cluster start)
# where only the zoo's user types exist beforehand (the sink creates the tables from the copy's shapes):
#   1. the type zoo (lib/copy_zoo.sql) through rule r1 ('*', cdc) into project mirror's postgres replica: initial
#      copy, then streamed inserts, updates, deletes, a truncate and DDL (ADD COLUMN with a default, RENAME
#      COLUMN); "mosta-sidecar verify r1" finds every collection equal;
#   2. the replication origin on the target (named by the slot key) holds the position;
#   3. kill -9 of the sidecar three times under a writer (a keyed table and a keyless REPLICA IDENTITY FULL one,
#      where a transaction applied twice would show): counts and sums equal, no row doubled;
#   0. the sink's own tests against the target cluster (sidecar_tests PgSinkOnPostgres.*: bulk runs, replays,
#      every conflict kind and resolution);
#   4. a target URI that cannot connect: rule r2's target is in error in mosta_rule_targets() with a clear message
#      and the password masked (nor in the daemon's log).
# Every wait polls with a deadline. Prints "pg_target: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init pg_target
require_cluster
require_sidecar
SIDECAR_TESTS=${MOSTA_SIDECAR_TESTS:-build/test/cpp/sidecar/sidecar_tests}
[ -x "$SIDECAR_TESTS" ] || fail_setup "$SIDECAR_TESTS not found: cmake --build build -j2 --target sidecar_tests"

use_database mosta_pg_target_$$
target_dir=
writer=
cleanup_extra() {
	[ -n "$writer" ] && kill "$writer" 2>/dev/null
	[ -n "$target_dir" ] && scripts/pg-cluster stop "$target_dir" >/dev/null 2>&1
}

out=$(MOSTA_PG_CONF="track_commit_timestamp = on" scripts/pg-cluster start) || fail_setup "target cluster did not start"
target_dir=$(env_value "$out" MOSTA_CLUSTER_DIR)
tport=$(env_value "$out" PGPORT)
tpsql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$tport" -d target "$@"; }
tscalar() { psql -X -At -h 127.0.0.1 -p "$tport" -d target -c "$1" 2>/dev/null; }
createdb -h 127.0.0.1 -p "$tport" target || fail_setup "createdb target"
tpsql <<'SQL' || fail_setup "target types"
CREATE SCHEMA zoo;
CREATE TYPE zoo.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN zoo.qty AS integer NOT NULL DEFAULT 0 CHECK (VALUE >= 0);
CREATE DOMAIN zoo.code AS varchar(8) CHECK (VALUE ~ '^[A-Z]+$');
SQL

if MOSTA_PG_SINK_TEST_CONNINFO="host=127.0.0.1 port=$tport dbname=target user=$PGUSER" \
	"$SIDECAR_TESTS" --gtest_filter='PgSinkOnPostgres.*' >"$work/gtest.log" 2>&1 &&
	grep -q '^\[  PASSED  \] [1-9]' "$work/gtest.log" && ! grep -q '\[  SKIPPED \]' "$work/gtest.log"; then
	ok "the sink's tests against a real server ($(grep -c '^\[       OK \]' "$work/gtest.log") passed)"
else
	not_ok "the sink's tests against a real server"
	cat "$work/gtest.log" >&2
fi

psql_db -f test/integration/lib/copy_zoo.sql >/dev/null || fail_setup "type zoo"
psql_db <<'SQL' || fail_setup "source schema"
CREATE SCHEMA crash;
CREATE TABLE crash.k (id int PRIMARY KEY, v int NOT NULL);
CREATE TABLE crash.nk (id int, v int);
ALTER TABLE crash.nk REPLICA IDENTITY FULL;
CREATE EXTENSION mostajs;
SQL
source_uri="postgresql://$PGUSER@127.0.0.1:$PGPORT/$db"
target_uri="postgresql://$PGUSER:s3cret-pw@127.0.0.1:$tport/target"
psql_db -o /dev/null -v src="$source_uri" -v tgt="$target_uri" <<'SQL' || fail_setup "catalog"
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'src');
SELECT mosta_add_replica('mirror', 'pg', 'master', 'postgres', :'tgt');
SELECT mosta_add_replica('broken', 'pg', 'master', 'postgres', 'postgresql://bob:t0p-secret@127.0.0.1:1/none');
SELECT mosta_add_rule('r1', 'app', 'mirror', 'cdc', ARRAY['*']);
SELECT mosta_add_rule('r2', 'app', 'broken', 'cdc', ARRAY['crash.k']);
SQL

start_daemon() {
	PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>>"$work/log.daemon" &
	daemon=$!
}

# same SQL: the query's result on the source and on the target agree (and are not empty)
same() {
	local s t
	s=$(scalar "$1")
	t=$(tscalar "$1")
	[ -n "$s" ] && [ "$s" = "$t" ]
}
zoo_sums="SELECT (SELECT count(*) FROM zoo.values) || ' ' || (SELECT count(*) FROM zoo.customers) || ' ' ||
	(SELECT count(*) FROM zoo.measures) || ' ' ||
	(SELECT count(*) FROM app.tickets) || ' ' || (SELECT count(*) FROM zoo.\"Mixed Case\")"

start_daemon
if poll_until 90 same "$zoo_sums"; then
	ok "initial copy of the type zoo into the PostgreSQL target"
else
	not_ok "initial copy of the type zoo into the PostgreSQL target (source '$(scalar "$zoo_sums")', target '$(psql -X -At -h 127.0.0.1 -p "$tport" -d target -c "$zoo_sums" 2>&1)')"
	tail -20 "$work/log.daemon" >&2
fi
if [ "$(tscalar "SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = 'zoo' AND table_name = 'values' AND constraint_type = 'PRIMARY KEY'")" = 1 ]; then
	ok "the sink created zoo.values with its primary key"
else
	not_ok "the sink created zoo.values with its primary key"
fi

# streamed changes: every kind, on the tricky types, then DDL
psql_db <<'SQL' || not_ok "source changes"
INSERT INTO zoo.values (customer_id, n, f4, f8, b, t, ts, tstz, d, by, j, jb, ia, ta, ma, jba, moods, q)
	VALUES (2, 1.25, 'Infinity', -0.5, true, E'new\tline\nhere \\', '0010-01-01 00:00:00 BC', '2001-02-03 04:05:06.7+05',
	        '0001-01-01 BC', '\xdeadbeef', '[1, {"a": null}]', '{"k": "v"}', '{4,NULL}', '{"x y",NULL,"\"q"}',
	        '{{5,6},{7,8}}', '{"{\"z\": [1]}"}', '{ok}', 3);
UPDATE zoo.values SET t = 'updated', b = NOT coalesce(b, false), tstz = '1999-12-31 23:59:59.999999+00' WHERE id = 1;
UPDATE zoo.values SET ia = '{9,9,9}', d = '0044-03-15 BC' WHERE id = 2;
DELETE FROM zoo.values WHERE id = 4;
INSERT INTO zoo.customers (id, name) VALUES (30, 'dan');
UPDATE zoo.customers SET id = 40 WHERE id = 30;
INSERT INTO zoo.empty VALUES (1, 'gone soon'), (2, 'also');
TRUNCATE zoo.empty;
UPDATE zoo.measures SET v = v + 1 WHERE id < 50;
DELETE FROM zoo.measures WHERE id > 290;
ALTER TABLE zoo.customers ADD COLUMN note text DEFAULT 'n/a';
INSERT INTO zoo.customers (name, mood, note) VALUES ('eve', 'ok', 'fresh');
ALTER TABLE zoo.customers RENAME COLUMN note TO remark;
UPDATE zoo.customers SET remark = 'renamed' WHERE name = 'ada';
SQL
last_lsn=$(scalar "SELECT pg_current_wal_lsn()")
# the last change, between two readings of the source's clock: its commit time lies between them
times=$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" -c "SELECT clock_timestamp()" \
	-c "INSERT INTO zoo.\"Mixed Case\" VALUES (3, 'last', 'x')" -c "SELECT clock_timestamp()") || not_ok "last change"
before=$(sed -n 1p <<<"$times")
after=$(sed -n 3p <<<"$times")
streamed() {
	same "SELECT count(*) || ' ' || coalesce(string_agg(remark, ',' ORDER BY id), '') FROM zoo.customers" &&
		same "SELECT count(*) FROM zoo.\"Mixed Case\"" && same "SELECT count(*) FROM zoo.empty"
}
if poll_until 60 streamed; then
	ok "streamed inserts, updates, deletes, truncate, ADD COLUMN and RENAME COLUMN reached the target"
else
	not_ok "streamed changes reached the target ($(tscalar "SELECT string_agg(remark, ',') FROM zoo.customers"))"
	tail -20 "$work/log.daemon" >&2
fi
if "$BINARY" verify r1 --source "host=127.0.0.1 port=$PGPORT dbname=$db user=$PGUSER" >"$work/verify.out" 2>&1; then
	ok "mosta-sidecar verify r1: every collection of the PostgreSQL target matches"
else
	not_ok "mosta-sidecar verify r1: every collection of the PostgreSQL target matches"
	cat "$work/verify.out" >&2
fi
if grep -q "s3cret-pw" "$work/verify.out"; then
	not_ok "verify's output masks the target's password"
else
	ok "verify's output masks the target's password"
fi

origin=$(tscalar "SELECT roname FROM pg_replication_origin WHERE roname LIKE 'mosta_r1_%'")
if [[ "$origin" == mosta_r1_pg_* ]] &&
	[ "$(tscalar "SELECT pg_replication_origin_progress('$origin', true) >= '$last_lsn'")" = t ]; then
	ok "the target's replication origin $origin holds the position (at or past $last_lsn)"
else
	not_ok "the target's replication origin holds the position ('$origin': $(tscalar "SELECT string_agg(remote_lsn::text, ',') FROM pg_replication_origin_status"), expected >= $last_lsn)"
fi
row_time="SELECT pg_xact_commit_timestamp(xmin) FROM zoo.\"Mixed Case\" WHERE \"Key\" = 3"
if [ "$(tscalar "SELECT ($row_time) BETWEEN '$before' AND '$after'")" = t ]; then
	ok "the target row's commit timestamp is the source's commit time"
else
	not_ok "the target row's commit timestamp is the source's commit time ($(tscalar "$row_time"), not in [$before, $after])"
fi

# crashes under a writer
(
	for i in $(seq 1 600); do
		psql -X -q -d "$db" -c "BEGIN; INSERT INTO crash.k VALUES ($i, $i); UPDATE crash.k SET v = v + 1 WHERE id = $i - 1;
			INSERT INTO crash.nk VALUES ($i, $i), ($i, $i); UPDATE crash.nk SET v = v + 1 WHERE id = $i - 1;
			DELETE FROM crash.nk WHERE id = $i - 3; COMMIT" || exit 1
	done
) &
writer=$!
target_k() { tscalar "SELECT count(*) FROM crash.k"; }
for round in 1 2 3; do
	before=$(target_k)
	moved() { [ "$(target_k)" -gt "${before:-0}" ] 2>/dev/null; }
	if poll_until 60 moved; then
		kill -9 "$daemon"
		wait "$daemon" 2>/dev/null
		ok "crash $round: the target moved (crash.k: $before -> $(target_k)), then kill -9"
	else
		not_ok "crash $round: the target moved"
		kill -9 "$daemon"
		wait "$daemon" 2>/dev/null
	fi
	start_daemon
done
if wait "$writer"; then ok "the writer committed its 600 transactions"; else not_ok "the writer committed its 600 transactions"; fi
writer=
k_sums="SELECT count(*) || ' ' || sum(v) FROM crash.k"
nk_sums="SELECT count(*) || ' ' || sum(v) || ' ' || sum(id) FROM crash.nk"
if poll_until 90 same "$k_sums" && poll_until 30 same "$nk_sums"; then
	ok "after 3 crashes the target equals the source (crash.k: $(tscalar "$k_sums"); keyless crash.nk: $(tscalar "$nk_sums"))"
else
	not_ok "after 3 crashes the target equals the source (k: '$(scalar "$k_sums")' vs '$(tscalar "$k_sums")'; nk: '$(scalar "$nk_sums")' vs '$(tscalar "$nk_sums")')"
fi
resnapshots=$(scalar "SELECT resnapshots FROM mosta_rule_targets('r1')")
if [ "$resnapshots" = 0 ]; then
	ok "no re-snapshot: after every restart the target's origin held what the slot had confirmed"
else
	not_ok "no re-snapshot: after every restart the target's origin held what the slot had confirmed ($resnapshots re-snapshots)"
	grep -i "snapshot\|behind" "$work/log.daemon" | grep -v broken | tail -5 >&2
fi
identity=$(tscalar "SELECT relreplident FROM pg_class WHERE oid = 'crash.nk'::regclass")
[ "$identity" = f ] && ok "the target's copy of a REPLICA IDENTITY FULL table has REPLICA IDENTITY FULL too" ||
	not_ok "the target's crash.nk has replica identity '$identity', expected f (full, as on the source)"
doubled="SELECT count(*) FROM (SELECT id FROM crash.nk GROUP BY id HAVING count(*) <> 2) d"
if [ "$(tscalar "$doubled")" = 0 ] && [ "$(scalar "$doubled")" = 0 ]; then
	ok "no row of the keyless table applied twice (every id twice, as on the source)"
else
	not_ok "no row of the keyless table applied twice ($(tscalar "$doubled") ids differ)"
fi

# a target that cannot be reached
r2_error() { [ -n "$(scalar "SELECT last_error FROM mosta_rule_targets('r2') WHERE last_error <> ''")" ]; }
if poll_until 60 r2_error; then
	error=$(scalar "SELECT last_error FROM mosta_rule_targets('r2')")
	if [[ "$error" == *"connecting to PostgreSQL target"* ]] && [[ "$error" != *t0p-secret* ]]; then
		ok "a bad target URI: a clear masked error in mosta_rule_targets() ($error)"
	else
		not_ok "a bad target URI: a clear masked error ($error)"
	fi
else
	not_ok "a bad target URI is reported in mosta_rule_targets()"
fi
stop_daemon "the daemon stops cleanly"
if grep -q "t0p-secret\|s3cret-pw" "$work/log.daemon"; then
	not_ok "the daemon's log masks the targets' passwords"
else
	ok "the daemon's log masks the targets' passwords"
fi
finish
