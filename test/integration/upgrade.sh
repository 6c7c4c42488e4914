#!/usr/bin/env bash
# upgrade.sh: ALTER EXTENSION mostajs UPDATE from every released version (0.1.0) to the current one (cluster of
# PGHOST/PGPORT/PGUSER, a superuser, as scripts/pg-cluster run provides; the extension installed, with the
# released install scripts and the upgrade scripts: make install).
#   1. CREATE EXTENSION mostajs VERSION '0.1.0' works with the current library, and the 0.1.0 declarations the
#      library now serves still answer (mosta.snapshot_documents(regclass, boolean) reads PG_NARGS());
#   2. a catalog in use (a project, two replicas, a rule, id map rows, a counter, invariants, a TTL, a captured
#      table with a change, sidecar status rows) is updated, and every row of every mosta.* table is the same
#      after the update as before it;
#   3. the updated database's schema is the one a fresh CREATE EXTENSION mostajs makes: pg_dump --binary-upgrade
#      --schema-only of both (the only mode in which pg_dump writes an extension's member objects, with their
#      grants, comments and ALTER EXTENSION ... ADD lines) is identical once normalized, and so are the member
#      lists and the configuration tables pg_dump keeps the rows of;
#   4. what 0.2.0 adds works on the updated database: status 'stopped', snapshot_documents with partition_root and
#      format_version, snapshot_ddl_document, the new event triggers, conflicts (policy error, mosta._record_conflict
#      counting in a kept mosta.rule_stats row); the kept data keeps its meaning (an id maps to the uuid it had, a
#      counter goes on from where it was).
# What the normalization removes, and why it may differ between two databases holding the same schema:
#   - "SELECT pg_catalog.binary_upgrade_set_next_..." lines: OIDs, relfilenodes and attribute versions that
#     pg_upgrade would preserve; they depend on creation order, not on the schema;
#   - the values of relfrozenxid/relminmxid and the OIDs in the "UPDATE pg_catalog.pg_class ... WHERE oid = ..."
#     lines: transaction ids and OIDs of the moment the tables were created;
#   - the version and the configuration table OIDs of binary_upgrade_create_empty_extension: OIDs again (the
#     configuration tables are compared by name, as a set, in their own check); the version is checked on its own;
#   - pg_dump's \restrict/\unrestrict lines: a random key drawn for each run;
#   - the positions in "SELECT pg_catalog.setval(...)" lines: sequence positions are data (activity ids, change
#     log sequence numbers), which --binary-upgrade writes even with --schema-only.
# Both databases get the same user objects and catalog rows (the updated one through 0.1.0, the fresh one through
# 0.2.0), so the dumps compare the whole database: the triggers and constraints the API put on user tables too.
# Prints "upgrade: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init upgrade
require_cluster

old_version=0.1.0
new_version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" mostajs.control)

# the pg_dump of the server's major version: the one beside pg_config, else the one on PATH
pg_dump_bin=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null)/pg_dump
[ -x "$pg_dump_bin" ] || pg_dump_bin=$(command -v pg_dump) || fail_setup "pg_dump not found"

use_database mosta_upgrade_old_$$
fresh=mosta_upgrade_new_$$
cleanup_extra() { dropdb --if-exists "$fresh" >/dev/null 2>&1; }
createdb "$fresh" || { not_ok "createdb $fresh"; finish; }

# 1. the released version installs with the current library
if psql_db -c "CREATE EXTENSION mostajs VERSION '$old_version'" &&
	[ "$(scalar "SELECT extversion FROM pg_extension WHERE extname = 'mostajs'")" = "$old_version" ]; then
	ok "CREATE EXTENSION mostajs VERSION '$old_version' with the $new_version library"
else
	not_ok "CREATE EXTENSION mostajs VERSION '$old_version' with the $new_version library"
	finish
fi

# 2. a catalog in use, through the 0.1.0 API (and the rows the sidecar writes)
# catalog_in_use: the same user objects and catalog rows, made through the API of 0.1.0 (which 0.2.0 keeps)
read -r -d '' catalog_in_use <<'SQL'
CREATE TABLE items (id int PRIMARY KEY, kind text NOT NULL, amount numeric NOT NULL, parent int,
                    created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO items (id, kind, amount) SELECT g, 'k' || g % 3, g * 1.5 FROM generate_series(1, 5) g;
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', 'postgresql://app:secret@localhost/app');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'app.db', lag_tolerance_ms => 600000);
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['items']);
SELECT mosta_set_read_routing('app', 'round-robin');
SELECT mosta_set_id_policy('orders', 'time-ordered');
SELECT mosta_map_id('orders', 'a1');
SELECT mosta_map_ids('orders', ARRAY['a2', 'a3']);
SELECT mosta_map_id('customers', 'c1');
SELECT mosta_next_value('invoice', '2026'), mosta_next_value('invoice', '2026'), mosta_next_value('invoice', '2026');
SELECT mosta_add_sparse_unique('items', ARRAY['parent']);
SELECT mosta_add_ttl('items', 'created_at', '30 days');
SELECT mosta_capture_table('items');
INSERT INTO items (id, kind, amount) VALUES (6, 'k0', 9);
INSERT INTO mosta.rule_stats (rule, status, snapshot_rows) VALUES ('r1', 'streaming', 5);
INSERT INTO mosta.target_status (rule, project, replica, slot, status, snapshot_rows)
	VALUES ('r1', 'app', 'lite', 'mosta_r1', 'streaming', 5);
INSERT INTO mosta.replica_status (project, replica, status, lag_ms) VALUES ('app', 'lite', 'up', 12);
SQL
if psql_db -c "$catalog_in_use" >/dev/null 2>"$work/setup.err"; then
	ok "a 0.1.0 catalog in use: project, replicas, rule, routing, id map, counter, invariant, TTL, capture, status"
else
	not_ok "a 0.1.0 catalog in use: project, replicas, rule, routing, id map, counter, invariant, TTL, capture, status"
	cat "$work/setup.err" >&2
	finish
fi

# the 0.1.0 declaration of snapshot_documents (two arguments), served by the current library
if [ "$(scalar "SELECT count(*) FROM mosta.snapshot_documents('items')")" = 6 ] &&
	[ "$(scalar "SELECT count(*) FROM mosta.snapshot_documents('items', false) d WHERE d NOT LIKE '%\"types\"%'")" = 6 ]; then
	ok "before the update, the current library serves mosta.snapshot_documents(regclass, boolean) of 0.1.0"
else
	not_ok "before the update, the current library serves mosta.snapshot_documents(regclass, boolean) of 0.1.0"
fi

# catalog_columns DB: every "table.column" of the tables of schema mosta, sorted
catalog_columns() {
	psql -X -At -d "$1" -c "SELECT c.relname || '.' || a.attname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relnamespace = 'mosta'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY 1" | LC_ALL=C sort
}
# catalog_rows DB [TABLE.COLUMN...]: every row of every table of schema mosta, as jsonb text, table by table,
# sorted, without the columns named (those the update adds: the rows kept must be the same apart from them); once
# known_tables is set, only those tables (the ones the update adds hold no kept rows)
known_tables=
catalog_rows() {
	local table db_=$1 skip column
	shift
	for table in $(psql -X -At -d "$db_" -c "SELECT relname FROM pg_class
		WHERE relnamespace = 'mosta'::regnamespace AND relkind = 'r' ORDER BY relname"); do
		[ -n "$known_tables" ] && ! grep -qx "$table" <<<"$known_tables" && continue
		echo "== mosta.$table"
		skip=
		for column in "$@"; do [ "${column%%.*}" = "$table" ] && skip+="'${column#*.}',"; done
		psql -X -At -d "$db_" -c "SELECT (to_jsonb(t) - ARRAY[${skip%,}]::text[])::text FROM mosta.\"$table\" t ORDER BY 1"
	done
}
uuid_a1=$(scalar "SELECT mosta_lookup_id('orders', 'a1')")
catalog_rows "$db" >"$work/rows.before"
known_tables=$(sed -n 's/^== mosta\.//p' "$work/rows.before")
catalog_columns "$db" >"$work/columns.before"

# the update
if psql_db -c "ALTER EXTENSION mostajs UPDATE TO '$new_version'" 2>"$work/update.err" &&
	[ "$(scalar "SELECT extversion FROM pg_extension WHERE extname = 'mostajs'")" = "$new_version" ]; then
	ok "ALTER EXTENSION mostajs UPDATE TO '$new_version'"
else
	not_ok "ALTER EXTENSION mostajs UPDATE TO '$new_version'"
	sed 's/^/    /' "$work/update.err" >&2
	finish
fi

catalog_columns "$db" >"$work/columns.after"
mapfile -t added_columns < <(LC_ALL=C comm -13 "$work/columns.before" "$work/columns.after")
echo "# columns the update adds: ${added_columns[*]:-none}"
catalog_rows "$db" "${added_columns[@]}" >"$work/rows.after"
if [ "$(grep -c . "$work/rows.before")" -gt 20 ] && diff -u "$work/rows.before" "$work/rows.after" >"$work/rows.diff"; then
	ok "every row of every mosta.* table is kept ($(grep -vc '^==' "$work/rows.after") rows)"
else
	not_ok "every row of every mosta.* table is kept"
	head -40 "$work/rows.diff" >&2
fi

# 3. the same schema as a fresh install
if psql -X -q -v ON_ERROR_STOP=1 -d "$fresh" -c "CREATE EXTENSION mostajs" &&
	psql -X -q -v ON_ERROR_STOP=1 -d "$fresh" -c "$catalog_in_use" >/dev/null 2>"$work/setup.err" &&
	[ "$(psql -X -At -d "$fresh" -c "SELECT extversion FROM pg_extension WHERE extname = 'mostajs'")" = "$new_version" ]; then
	ok "CREATE EXTENSION mostajs installs $new_version (and takes the same catalog in use)"
else
	not_ok "CREATE EXTENSION mostajs installs $new_version (and takes the same catalog in use)"
	cat "$work/setup.err" >&2
	finish
fi

normalized_schema() {
	"$pg_dump_bin" --binary-upgrade --schema-only --no-tablespaces -d "$1" |
		grep -v -e '^SELECT pg_catalog\.binary_upgrade_set_next_' -e '^\\restrict ' -e '^\\unrestrict ' |
		sed -E -e "s/(binary_upgrade_create_empty_extension\('mostajs', 'public', false, )'[^']*', '\{[0-9,]*\}'/\1VERSION, CONFIG/" \
			-e "s/^SET relfrozenxid = '[0-9]+', relminmxid = '[0-9]+'$/SET relfrozenxid = XID, relminmxid = MXID/" \
			-e "s/^WHERE oid = '[0-9]+';$/WHERE oid = OID;/" \
			-e "s/^(SELECT pg_catalog\.setval\('[^']+', )[0-9]+, (true|false)\);$/\1N, B);/" |
		cat -s
}
normalized_schema "$db" >"$work/schema.updated"
normalized_schema "$fresh" >"$work/schema.fresh"
if [ "$(grep -c '^ALTER EXTENSION mostajs ADD ' "$work/schema.fresh")" -gt 100 ] &&
	diff -u "$work/schema.fresh" "$work/schema.updated" >"$work/schema.diff"; then
	ok "pg_dump --binary-upgrade --schema-only: updated = fresh $new_version ($(grep -c . "$work/schema.fresh") lines)"
else
	not_ok "pg_dump --binary-upgrade --schema-only: updated = fresh $new_version (diff: - fresh, + updated)"
	head -80 "$work/schema.diff" >&2
fi

members="SELECT pg_describe_object(classid, objid, objsubid) FROM pg_depend
	WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mostajs') AND deptype = 'e' ORDER BY 1"
config="SELECT string_agg(t::regclass::text || ' ' || c, ', ' ORDER BY t::regclass::text)
	FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(t, c) WHERE e.extname = 'mostajs'"
if [ "$(psql -X -At -d "$db" -c "$members")" = "$(psql -X -At -d "$fresh" -c "$members")" ] &&
	[ "$(psql -X -At -d "$db" -c "$config")" = "$(psql -X -At -d "$fresh" -c "$config")" ]; then
	ok "the same extension members and configuration tables as a fresh $new_version"
else
	not_ok "the same extension members and configuration tables as a fresh $new_version"
	diff <(psql -X -At -d "$fresh" -c "$members" -c "$config") <(psql -X -At -d "$db" -c "$members" -c "$config") >&2
fi

# 4. what 0.2.0 adds, on the updated database, and the kept data in use
if psql_db -c "UPDATE mosta.target_status SET status = 'stopped'" -c "UPDATE mosta.rule_stats SET status = 'stopped'" 2>/dev/null; then
	ok "status 'stopped' is accepted by target_status and rule_stats"
else
	not_ok "status 'stopped' is accepted by target_status and rule_stats"
fi
if [ "$(scalar "SELECT count(*) FROM mosta.snapshot_documents('items', true, true, 2)")" = 6 ] &&
	[ "$(scalar "SELECT count(*) FROM mosta.snapshot_documents('items')")" = 6 ] &&
	[ "$(scalar "SELECT mosta.snapshot_ddl_document('items')::jsonb -> 'content' ->> 'table'")" = items ]; then
	ok "mosta.snapshot_documents(tbl, true, true, 2), its defaults and mosta.snapshot_ddl_document work"
else
	not_ok "mosta.snapshot_documents(tbl, true, true, 2), its defaults and mosta.snapshot_ddl_document work"
fi
error=$(scalar_or_error "SELECT count(*) FROM mosta.snapshot_documents('items', true, false, 3)")
case $error in
*"format version 3 is not supported"*) ok "snapshot_documents refuses an unknown format version" ;;
*) not_ok "snapshot_documents refuses an unknown format version (got: $error)" ;;
esac
if [ "$(scalar "SELECT mosta_map_id('orders', 'a1')")" = "$uuid_a1" ] && [ -n "$uuid_a1" ] &&
	[ "$(scalar "SELECT mosta_next_value('invoice', '2026')")" = 4 ] &&
	[ "$(scalar "SELECT count(*) FROM mosta_check_invariants('items')")" = 0 ]; then
	ok "kept data in use: an id maps to its uuid of 0.1.0, the counter goes on at 4, invariants hold"
else
	not_ok "kept data in use: an id maps to its uuid of 0.1.0, the counter goes on at 4, invariants hold"
fi
# the event triggers of 0.2.0 fire: ALTER DOMAIN (mosta_ddl_command_end) and a rewrite (mosta_ddl_table_rewrite)
if psql_db >/dev/null 2>&1 <<'SQL'; then
CREATE DOMAIN positive AS numeric;
ALTER TABLE items ADD COLUMN price positive;
ALTER DOMAIN positive ADD CHECK (VALUE > 0);
ALTER TABLE items ALTER COLUMN amount TYPE numeric(12, 2);
INSERT INTO items (id, kind, amount, price) VALUES (7, 'k1', 1, 2);
SQL
	ok "DDL on a captured table under the $new_version event triggers (ALTER DOMAIN, a rewrite)"
else
	not_ok "DDL on a captured table under the $new_version event triggers (ALTER DOMAIN, a rewrite)"
fi
# conflicts: policy error, a recorded conflict counted in the kept rule_stats row of r1, listed and purged
conflict='{"kind": "update_differs", "incoming_side": "target", "schema": "public", "table": "items", "key": {"id": 1},
	"local": {"id": 1}, "incoming": {"id": 1}, "local_time": null, "incoming_time": null, "incoming_lsn": "0/1",
	"change_index": 0, "decision": "applied"}'
if psql_db -c "UPDATE mosta.rules SET conflict_resolution = 'error' WHERE name = 'r1'" >/dev/null 2>&1 &&
	[ "$(scalar "SELECT mosta._record_conflict('r1', 'lite', '$conflict')")" = t ] &&
	[ "$(scalar "SELECT mosta._record_conflict('r1', 'lite', '$conflict')")" = f ] &&
	[ "$(scalar "SELECT status || ' ' || snapshot_rows || ' ' || conflicts FROM mosta.rule_stats WHERE rule = 'r1'")" = "stopped 5 1" ] &&
	[ "$(scalar "SELECT conflicts FROM mosta_rules() WHERE name = 'r1'")" = 1 ] &&
	[ "$(scalar "SELECT mosta_topology() #>> '{rules,0,stats,conflicts}'")" = 1 ] &&
	[ "$(scalar "SELECT count(*) FROM mosta_conflicts('r1')")" = 1 ] &&
	[ "$(scalar "SELECT mosta_purge_conflicts('r1')")" = 1 ]; then
	ok "conflicts on the updated catalog: policy error, recorded once, counted in the kept rule_stats row, listed, purged"
else
	not_ok "conflicts on the updated catalog: policy error, recorded once, counted in the kept rule_stats row, listed, purged"
fi
if [ "$(scalar "SELECT count(*) FROM mosta_replica_status('app')")" = 2 ] &&
	[ "$(scalar "SELECT mosta_topology() IS NOT NULL")" = t ] &&
	[ "$(scalar "SELECT count(*) > 0 FROM mosta_validate_rule('r1')")" = t ]; then
	ok "mosta_replica_status, mosta_topology and mosta_validate_rule answer on the updated catalog"
else
	not_ok "mosta_replica_status, mosta_topology and mosta_validate_rule answer on the updated catalog"
fi

finish
