#!/usr/bin/env bash
# sidecar_star_rule.sh: a '*' rule picks up tables created after the sidecar started (cluster of PGHOST/PGPORT/
# PGUSER, as scripts/pg-cluster run provides). Declares a cdc rule on '*' into a SQLite target and starts the
# daemon (not --once). Once it streams: creates a table with a primary key, inserts, updates and deletes rows,
# and waits (polling with a deadline) until the SQLite file holds the same rows (sorted dumps of the sqlite3 CLI
# and psql compared); then creates a partitioned table with two partitions and inserts through the parent, and
# waits until the rows are in SQLite. docs/sidecar.md says a '*' rule "gets every table, including tables created
# later: their changes create the table"; partitioned tables are replicated as their root (the sidecar streams
# with partition-root, docs/sidecar.md), so the partitioned table existing at the start ("public.p0") and the one
# created later ("public.m", with a row moved across partitions) are each one SQLite table holding all their
# partitions' rows, and no partition gets a table of its own. Finally SIGTERM, which must exit 0. Slot names are not asserted. The binary: MOSTA_SIDECAR_BIN (or
# MOSTA_SIDECAR), default build/sidecar/mosta-sidecar.
# Prints "sidecar_star_rule: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_star_rule
require_cluster
require_sidecar
command -v sqlite3 >/dev/null || fail_setup "the sqlite3 CLI is not installed (scripts/install-deps installs it)"

# lib/tap.sh: $db (created), $work, $daemon, psql_db, scalar_or_error, stop_daemon and the exit trap, which
# kills the daemon and drops the slots, $db and $work
use_database mosta_sidecar_star_$$
export PGTZ=UTC
lite=$work/star.db

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE pre (id int PRIMARY KEY, v text);
INSERT INTO pre SELECT i, 'pre ' || i FROM generate_series(1, 20) i;
CREATE TABLE p0 (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE p0_low PARTITION OF p0 FOR VALUES FROM (0) TO (100);
CREATE TABLE p0_high PARTITION OF p0 FOR VALUES FROM (100) TO (1000);
INSERT INTO p0 SELECT i, 'p0 ' || i FROM generate_series(90, 109) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$lite" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('star', 'app', 'app', 'cdc', ARRAY['*']);
SQL

# source_rows QUERY / sqlite_rows QUERY print a query's rows sorted, '|'-separated, NULL as <null>.
source_rows() { psql -X -At -F '|' -P null='<null>' -d "$db" -c "$1" 2>&1 | LC_ALL=C sort; }
sqlite_rows() { sqlite3 -batch -noheader -separator '|' -nullvalue '<null>' -cmd '.timeout 5000' "$lite" "$1" 2>&1 | LC_ALL=C sort; }
sqlite_tables() { sqlite3 -batch -cmd '.timeout 5000' "$lite" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1)" 2>&1; }

# wait_rows LABEL SOURCE_QUERY SQLITE_QUERY: waits (deadline 30 s) until both print the same non-empty rows.
wait_rows() {
	local label=$1 source target deadline=$((SECONDS + 30))
	source=$(source_rows "$2")
	while :; do
		target=$(sqlite_rows "$3")
		[ -n "$source" ] && [ "$source" = "$target" ] && break
		if [ $SECONDS -ge $deadline ] || ! kill -0 "$daemon" 2>/dev/null; then
			not_ok "$label (source $(wc -l <<<"$source") rows, sqlite: $(head -c 200 <<<"$target"); tables: $(sqlite_tables))"
			tail -20 "$work/log.daemon" >&2
			return 1
		fi
		sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
	done
	ok "$label ($(wc -l <<<"$source") rows)"
}

PGDATABASE=$db "$BINARY" --status-interval 200ms --poll-interval 100ms 2>"$work/log.daemon" &
daemon=$!

# The daemon streams once the copy of the tables existing at its start is done.
deadline=$((SECONDS + 30))
until [ "$(scalar_or_error "SELECT status FROM mosta.rule_stats WHERE rule = 'star'")" = streaming ]; do
	if [ $SECONDS -ge $deadline ] || ! kill -0 "$daemon" 2>/dev/null; then break; fi
	sleep 0.1 # --allow-sleep: poll interval of a loop bounded by the deadline
done
status=$(scalar_or_error "SELECT status || ' ' || snapshot_rows FROM mosta.rule_stats WHERE rule = 'star'")
if [ "$status" = "streaming 40" ]; then ok "daemon streaming after copying the existing table: $status"; else not_ok "daemon streaming after the copy: '$status'"; cat "$work/log.daemon" >&2; fi
wait_rows "table existing at start copied" "SELECT id, v FROM pre" 'SELECT id, v FROM "public.pre"'
wait_rows "partitioned table existing at start copied as its root" "SELECT id, v FROM p0" 'SELECT id, v FROM "public.p0"'

# 1. A table created after the start.
psql_db <<'SQL' || not_ok "table created later"
CREATE TABLE later (id int PRIMARY KEY, v text, n numeric);
INSERT INTO later SELECT i, 'later ' || i, i * 0.5 FROM generate_series(1, 200) i;
UPDATE later SET v = 'updated' WHERE id % 10 = 0;
DELETE FROM later WHERE id BETWEEN 50 AND 59;
SQL
wait_rows "table created after the start arrives with its rows" "SELECT id, v, n FROM later" 'SELECT id, v, n FROM "public.later"'
# and it keeps following it
psql_db -c "INSERT INTO later VALUES (1000, 'more', NULL); DELETE FROM later WHERE id = 1" || not_ok "more changes to the later table"
wait_rows "later changes to it follow" "SELECT id, v, n FROM later" 'SELECT id, v, n FROM "public.later"'

# 2. A partitioned table created after the start, rows inserted through the parent.
psql_db <<'SQL' || not_ok "partitioned table created later"
CREATE TABLE m (id int, r text, v text, PRIMARY KEY (id, r)) PARTITION BY LIST (r);
CREATE TABLE m_a PARTITION OF m FOR VALUES IN ('a');
CREATE TABLE m_b PARTITION OF m FOR VALUES IN ('b');
INSERT INTO m SELECT i, CASE WHEN i % 3 = 0 THEN 'b' ELSE 'a' END, 'm ' || i FROM generate_series(1, 90) i;
UPDATE m SET v = 'moved', r = 'b' WHERE id = 1;   -- moves a row to the other partition
SQL
wait_rows "partitioned table created later arrives as its root, the moved row included" "SELECT id, r, v FROM m" \
	'SELECT id, r, v FROM "public.m"'
# Which tables SQLite holds: the roots, and no partition.
tables=$(sqlite_tables)
expected="_mosta_checkpoint _mosta_columns public.later public.m public.p0 public.pre"
if [ "$tables" = "$expected" ]; then ok "sqlite tables: $tables (no table per partition)"; else not_ok "sqlite tables: '$tables', expected '$expected'"; fi

# 3. SIGTERM: exit 0, the rule never in error.
stop_daemon "SIGTERM: exits 0"
status=$(scalar_or_error "SELECT status || ' ' || coalesce(last_error, '') FROM mosta.rule_stats WHERE rule = 'star'")
case $status in
"stopped ") ok "rule_stats: stopped (by SIGTERM), no error" ;;
*) not_ok "rule_stats: '$status'" ;;
esac
if grep -qE 'error|retrying' "$work/log.daemon"; then
	not_ok "no error logged"
	grep -E 'error|retrying' "$work/log.daemon" | head -5 >&2
else
	ok "no error logged"
fi
sed 's/^/    /' "$work/log.daemon"

finish
