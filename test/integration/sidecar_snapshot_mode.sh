#!/usr/bin/env bash
# sidecar_snapshot_mode.sh: a rule with mode 'snapshot' copies its tables once and stops (cluster of PGHOST/PGPORT/
# PGUSER, as scripts/pg-cluster run provides). Declares a rule 'snap' on two tables (one in a second schema, with a
# composite key) into a SQLite target and runs "mosta-sidecar --once"; then checks: the SQLite tables equal the
# source row by row (sorted dumps of the sqlite3 CLI and of psql compared), mosta_rules() and mosta.rule_stats say
# 'done' with snapshot_rows = the source's row count, and no mosta slot is left in pg_replication_slots. Then makes
# changes and runs "--once" again: the rule is done, so they are not applied (the SQLite file still holds the
# first copy) and no slot is created. Slot names are not asserted (any slot named mosta_%). No sleeps: --once
# returns when its work is done. The binary: MOSTA_SIDECAR_BIN (or MOSTA_SIDECAR), default
# build/sidecar/mosta-sidecar. Prints "sidecar_snapshot_mode: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_snapshot_mode
require_cluster
require_sidecar
command -v sqlite3 >/dev/null || fail_setup "the sqlite3 CLI is not installed (scripts/install-deps installs it)"

# lib/tap.sh: $db (created), $work, psql_db, scalar_or_error, run_once and the exit trap, which drops the
# slots, $db and $work
use_database mosta_sidecar_snapshot_$$
export PGTZ=UTC

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), qty bigint, active boolean, created timestamptz);
CREATE SCHEMA s2;
CREATE TABLE s2.lines (order_id int, line int, note text, PRIMARY KEY (order_id, line));
CREATE TABLE not_in_rule (id int PRIMARY KEY);
INSERT INTO items
SELECT i, 'item ' || i || CASE WHEN i % 7 = 0 THEN ' "quoted" é' ELSE '' END,
       CASE WHEN i % 11 = 0 THEN NULL ELSE i * 1.25 END, i::bigint * 1000000000, i % 2 = 0,
       timestamptz '2024-05-01 10:30:00.5+00' + i * interval '1 hour'
  FROM generate_series(1, 500) i;
INSERT INTO s2.lines SELECT o, l, 'note ' || o || '/' || l FROM generate_series(1, 20) o, generate_series(1, 3) l;
INSERT INTO not_in_rule SELECT generate_series(1, 10);
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/snap.db" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('snap', 'app', 'app', 'snapshot', ARRAY['items', 's2.lines']);
SQL
rows=$(scalar_or_error "SELECT (SELECT count(*) FROM items) + (SELECT count(*) FROM s2.lines)")

# source_dump / sqlite_dump print each table sorted, one row a line, in the same text form: booleans as 0/1 (the
# SQLite mapping), timestamptz as its JSON text (as the plugin sends it), NULL as <null>.
source_dump() {
	{
		echo "== public.items"
		psql -X -At -F '|' -P null='<null>' -d "$db" \
			-c "SELECT id, name, price, qty, active::int, to_json(created) #>> '{}' FROM items" | LC_ALL=C sort
		echo "== s2.lines"
		psql -X -At -F '|' -P null='<null>' -d "$db" -c "SELECT order_id, line, note FROM s2.lines" | LC_ALL=C sort
	} 2>&1
}
sqlite_dump() {
	{
		echo "== public.items"
		sqlite3 -batch -noheader -separator '|' -nullvalue '<null>' "$work/snap.db" \
			'SELECT id, name, price, qty, active, created FROM "public.items"' | LC_ALL=C sort
		echo "== s2.lines"
		sqlite3 -batch -noheader -separator '|' -nullvalue '<null>' "$work/snap.db" \
			'SELECT order_id, line, note FROM "s2.lines"' | LC_ALL=C sort
	} 2>&1
}
mosta_slots() { scalar_or_error "SELECT count(*) FROM pg_replication_slots WHERE database = '$db' AND slot_name LIKE 'mosta\_%'"; }

# 1. The copy.
run_once first
checkpoint() { sqlite3 -batch "$work/snap.db" 'SELECT group_concat(slot || " " || lsn, ",") FROM _mosta_checkpoint' 2>&1; }
checkpoint1=$(checkpoint)
source_dump >"$work/source.1"
sqlite_dump >"$work/sqlite.1"
if [ "$(wc -l <"$work/source.1")" -eq $((rows + 2)) ] && cmp -s "$work/source.1" "$work/sqlite.1"; then
	ok "sqlite equals the source row by row ($rows rows)"
else
	not_ok "sqlite equals the source row by row (source $(wc -l <"$work/source.1") lines, sqlite $(wc -l <"$work/sqlite.1"))"
	diff "$work/source.1" "$work/sqlite.1" | head -10 >&2
fi
tables=$(sqlite3 -batch "$work/snap.db" "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\_mosta%' ESCAPE '\' ORDER BY 1)" 2>&1)
if [ "$tables" = "public.items,s2.lines" ]; then ok "sqlite holds the rule's tables only: $tables"; else not_ok "sqlite holds the rule's tables only: '$tables'"; fi

stats=$(scalar_or_error "SELECT status || ' ' || snapshot_rows FROM mosta.rule_stats WHERE rule = 'snap'")
if [ "$stats" = "done $rows" ]; then ok "mosta.rule_stats: $stats"; else not_ok "mosta.rule_stats: '$stats', expected 'done $rows'"; fi
rules=$(scalar_or_error "SELECT status || ' ' || snapshot_rows FROM mosta_rules() WHERE name = 'snap'")
if [ "$rules" = "done $rows" ]; then ok "mosta_rules(): $rules"; else not_ok "mosta_rules(): '$rules', expected 'done $rows'"; fi
slots=$(mosta_slots)
if [ "$slots" = 0 ]; then ok "no mosta slot left after the copy"; else not_ok "no mosta slot left after the copy: $slots ($(scalar_or_error "SELECT string_agg(slot_name, ' ') FROM pg_replication_slots"))"; fi

# 2. Changes afterwards are not applied: the rule is done.
psql_db <<'SQL' || not_ok "changes after the copy"
INSERT INTO items (id, name) VALUES (1001, 'after the snapshot');
UPDATE items SET name = 'renamed ' || id WHERE id % 10 = 0;
DELETE FROM items WHERE id BETWEEN 100 AND 120;
INSERT INTO s2.lines VALUES (99, 1, 'after the snapshot');
TRUNCATE not_in_rule;
SQL
run_once second
checkpoint2=$(checkpoint)
if [ -n "$checkpoint1" ] && [ "$checkpoint1" = "$checkpoint2" ]; then
	ok "second run: no new copy (sqlite checkpoint still $checkpoint2)"
else
	not_ok "second run: no new copy (sqlite checkpoint '$checkpoint1', then '$checkpoint2')"
fi
sqlite_dump >"$work/sqlite.2"
if cmp -s "$work/sqlite.1" "$work/sqlite.2"; then
	ok "second run: later changes are not applied (sqlite still holds the first copy)"
else
	not_ok "second run: later changes are not applied"
	diff "$work/sqlite.1" "$work/sqlite.2" | head -10 >&2
fi
if ! cmp -s "$work/source.1" <(source_dump); then ok "the source did change meanwhile"; else not_ok "the source did change meanwhile"; fi
stats=$(scalar_or_error "SELECT status || ' ' || snapshot_rows FROM mosta.rule_stats WHERE rule = 'snap'")
if [ "$stats" = "done $rows" ]; then ok "mosta.rule_stats after the second run: $stats"; else not_ok "mosta.rule_stats after the second run: '$stats', expected 'done $rows'"; fi
slots=$(mosta_slots)
if [ "$slots" = 0 ]; then ok "no mosta slot after the second run"; else not_ok "no mosta slot after the second run: $slots"; fi

finish
