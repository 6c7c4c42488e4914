#!/usr/bin/env bash
# sidecar_copy_shape.sh: every copied table exists in every relational target after the initial copy, rows or
# none, and partitioned tables are replicated as their root (issue 10 items 2 and 14), on the cluster of
# PGHOST/PGPORT/PGUSER (scripts/pg-cluster run).
#
# Source: an empty keyed table "empty_t" (typed columns), a table "full_t" with rows, an empty table "star_only"
# that only the '*' rule covers, and a table "m" partitioned by list into m_a and m_b with rows in both. Two rules,
# each into a project of its own with a SQLite file and an SQL dump: "named" over empty_t, full_t and m (an
# explicit rule naming the partitioned parent) and "star" over '*'. "mosta-sidecar --once" takes the copies.
# Asserted:
#   1. each SQLite file has exactly the expected tables: empty_t with its columns (id, v, n, in order, with the
#      mapped types) and no row, full_t with its rows, the root "public.m" with the rows of both partitions and
#      no table per partition ("public.m_a", "public.m_b"); the '*' file has star_only too;
#   2. each dump replays (psql -X -v ON_ERROR_STOP=1) into an empty database holding empty_t with the source's
#      columns and types, and m as one table with the source's rows;
#   3. after rows are inserted into both partitions and one row is moved across partitions (an update of the
#      partition key), a second --once leaves "public.m" in both SQLite files equal to the source's m, and the
#      '*' dump, replayed again, too;
#   4. mosta-sidecar verify star: exit 0 (the partitioned root compared as one table);
#   5. a rule naming a partition (m_a) is reported by mosta_validate_rule (error naming the root), and its
#      target stops on the error "collection public.m_a is a partition of public.m ..." rather than replicating
#      nothing silently.
# Every file target lives under $work. Prints "sidecar_copy_shape: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_copy_shape
require_cluster
require_sidecar
command -v sqlite3 >/dev/null || fail_setup "the sqlite3 CLI is not installed (scripts/install-deps installs it)"

use_database mosta_copy_shape_$$
replayed=${db}_replay
cleanup_extra() { dropdb --if-exists "$replayed" >/dev/null 2>&1; }
export PGTZ=UTC

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE empty_t (id int PRIMARY KEY, v text, n numeric(5,2));
CREATE TABLE full_t (id int PRIMARY KEY, v text);
INSERT INTO full_t SELECT i, 'full ' || i FROM generate_series(1, 5) i;
CREATE TABLE star_only (id bigint PRIMARY KEY, at timestamptz);
CREATE TABLE m (id int, r text, v text, PRIMARY KEY (id, r)) PARTITION BY LIST (r);
CREATE TABLE m_a PARTITION OF m FOR VALUES IN ('a');
CREATE TABLE m_b PARTITION OF m FOR VALUES IN ('b');
INSERT INTO m SELECT i, CASE WHEN i % 2 = 0 THEN 'b' ELSE 'a' END, 'm ' || i FROM generate_series(1, 10) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v w="$work" <<'SQL' || { not_ok "catalog"; finish; }
SET client_min_messages = warning;
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('named', 'lite', 'slave', 'sqlite', :'w' || '/named.db');
SELECT mosta_add_replica('named', 'dump', 'slave', 'sqldump', :'w' || '/named.sql');
SELECT mosta_add_replica('star', 'lite', 'slave', 'sqlite', :'w' || '/star.db');
SELECT mosta_add_replica('star', 'dump', 'slave', 'sqldump', :'w' || '/star.sql');
SELECT mosta_add_rule('named', 'app', 'named', 'cdc', ARRAY['empty_t', 'full_t', 'm']);
SELECT mosta_add_rule('star', 'app', 'star', 'cdc', ARRAY['*']);
SQL

lite_query() { sqlite3 -batch -noheader -separator '|' -nullvalue '<null>' -cmd '.timeout 5000' "$1" "$2" 2>&1; }
lite_tables() { lite_query "$1" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1)"; }
source_rows() { psql -X -At -F '|' -P null='<null>' -d "$db" -c "$1" 2>&1 | LC_ALL=C sort; }
lite_rows() { lite_query "$1" "$2" | LC_ALL=C sort; }
# replay DUMP: a fresh empty database, then psql -f DUMP stopping at the first error.
replay() {
	dropdb --if-exists "$replayed" >/dev/null 2>&1
	createdb "$replayed" && PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$replayed" -f "$1" >"$work/replay.out" 2>&1
}
replayed_scalar() { psql -X -At -d "$replayed" -c "$1" 2>&1; }

# 1. The copy: every table, rows or none; partitions as their root.
run_once copy
for rule in named star; do
	expected="_mosta_checkpoint _mosta_columns public.empty_t public.full_t public.m"
	[ $rule = star ] && expected="_mosta_checkpoint _mosta_columns public.empty_t public.full_t public.m public.star_only"
	tables=$(lite_tables "$work/$rule.db")
	if [ "$tables" = "$expected" ]; then ok "$rule: SQLite holds exactly $expected"; else not_ok "$rule: SQLite tables '$tables', expected '$expected'"; fi
	columns=$(lite_query "$work/$rule.db" "SELECT group_concat(name || ' ' || type || ' ' || pk, ', ') FROM pragma_table_info('public.empty_t')")
	if [ "$columns" = "id INTEGER 1, v TEXT 0, n TEXT 0" ]; then ok "$rule: the empty table has its columns and key ($columns)"; else not_ok "$rule: empty table columns '$columns'"; fi
	count=$(lite_query "$work/$rule.db" 'SELECT count(*) FROM "public.empty_t"')
	if [ "$count" = 0 ]; then ok "$rule: the empty table is empty"; else not_ok "$rule: the empty table holds '$count'"; fi
	source=$(source_rows "SELECT id, r, v FROM m")
	target=$(lite_rows "$work/$rule.db" 'SELECT id, r, v FROM "public.m"')
	if [ "$source" = "$target" ] && [ -n "$source" ]; then ok "$rule: the root table holds both partitions' rows"; else not_ok "$rule: public.m differs: $(head -c 300 <<<"$target")"; fi
done

# 2. The dumps replay into an empty database with the empty table and the root.
for rule in named star; do
	if replay "$work/$rule.sql"; then ok "$rule: the dump replays into an empty database"; else not_ok "$rule: dump replay"; cat "$work/replay.out" >&2; continue; fi
	shape=$(replayed_scalar "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'public.empty_t'::regclass AND attnum > 0")
	if [ "$shape" = "id integer, v text, n numeric(5,2)" ]; then ok "$rule: the replayed dump has the empty table ($shape)"; else not_ok "$rule: replayed empty_t: '$shape'"; fi
	parts=$(replayed_scalar "SELECT count(*) FROM pg_class WHERE relname IN ('m_a', 'm_b')")
	rows=$(replayed_scalar "SELECT count(*) FROM public.m")
	if [ "$parts" = 0 ] && [ "$rows" = 10 ]; then ok "$rule: the replayed dump has m as one table with its 10 rows"; else not_ok "$rule: replayed m: partitions '$parts', rows '$rows'"; fi
done

# 3. Streaming: rows into both partitions, one moved across partitions.
psql_db <<'SQL' || not_ok "changes to m"
INSERT INTO m VALUES (11, 'a', 'new a'), (12, 'b', 'new b');
UPDATE m SET r = 'b', v = 'moved' WHERE id = 1;
DELETE FROM m WHERE id = 2;
INSERT INTO empty_t VALUES (1, 'first', 1.50);
SQL
run_once stream
source=$(source_rows "SELECT id, r, v FROM m")
for rule in named star; do
	target=$(lite_rows "$work/$rule.db" 'SELECT id, r, v FROM "public.m"')
	if [ "$source" = "$target" ]; then ok "$rule: public.m follows inserts into both partitions and a move across them"; else not_ok "$rule: public.m after streaming: $(head -c 300 <<<"$target")"; fi
	tables=$(lite_tables "$work/$rule.db")
	case " $tables " in *" public.m_a "* | *" public.m_b "*) not_ok "$rule: a partition got a table: $tables" ;; *) ok "$rule: still no table per partition" ;; esac
done
if replay "$work/star.sql" && [ "$(replayed_scalar "SELECT string_agg(format('%s|%s|%s', id, r, v), ' ' ORDER BY id, r) FROM public.m")" = "$(psql -X -At -d "$db" -c "SELECT string_agg(format('%s|%s|%s', id, r, v), ' ' ORDER BY id, r) FROM m")" ]; then
	ok "star: the dump, replayed after streaming, holds m as the source does"
else
	not_ok "star: the dump replayed after streaming"
	cat "$work/replay.out" >&2
fi

# 4. verify compares the root as one table.
if PGDATABASE=$db "$BINARY" verify star >"$work/verify.out" 2>&1; then ok "verify star exits 0"; else not_ok "verify star"; cat "$work/verify.out" >&2; fi

# 5. A rule naming a partition: reported, and refused loudly by the sidecar.
psql_db -o /dev/null -v w="$work" <<'SQL' || not_ok "leaf rule"
SET client_min_messages = warning;
SELECT mosta_disable_rule('named');
SELECT mosta_disable_rule('star');
SELECT mosta_add_replica('leaf', 'lite', 'slave', 'sqlite', :'w' || '/leaf.db');
SELECT mosta_add_rule('leaf', 'app', 'leaf', 'cdc', ARRAY['m_a']);
SQL
issue=$(scalar "SELECT issue FROM mosta_validate_rule('leaf') WHERE severity = 'error' AND collection = 'public.m_a'")
case $issue in "partition of public.m: "*"name public.m instead"*) ok "mosta_validate_rule reports the partition: $issue" ;; *) not_ok "mosta_validate_rule on a partition: '$issue'" ;; esac
if PGDATABASE=$db "$BINARY" --once --status-interval 1s 2>"$work/log.leaf"; then
	not_ok "a rule naming a partition fails under --once"
else
	ok "a rule naming a partition fails under --once"
fi
if grep -q 'rule leaf, target leaf.lite: error: collection public.m_a is a partition of public.m: .*name the root' "$work/log.leaf"; then
	ok "the target's error names the partition and its root"
else
	not_ok "the leaf rule's error"
	cat "$work/log.leaf" >&2
fi

finish
