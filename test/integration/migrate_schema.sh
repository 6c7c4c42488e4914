#!/usr/bin/env bash
# migrate_schema.sh: mosta-migrate check and schema on the shop data set's mapping (cluster of PGHOST/PGPORT/PGUSER,
# as scripts/pg-cluster run provides; the mostajs extension installed).
#   1. check accepts test/integration/migrate/shop.mapping.json and prints the load order, parents first;
#   2. schema prints the DDL (a transaction); schema --apply creates every table, the invariants (sparse unique,
#      polymorphic references), the id policies and the TTL; a second --apply changes nothing (pg_dump
#      --schema-only before and after is identical, and so are the catalog rows);
#   3. infer on the shop data set loaded into mosta-test-mongod prints a mapping that check accepts as it is and
#      that schema --apply creates (in a schema of its own), twice the same;
#   4. bad input is refused clearly: a mapping with a typo fails check and schema with FILE:LINE:COL and the fix, a
#      reference cycle is named, --apply without --target is a usage error (exit 2), a database without the
#      extension and a stale table without the mapping's columns fail with nothing applied.
# Prints "migrate_schema: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/migrate.sh
source test/integration/lib/migrate.sh
tap_init migrate_schema
require_cluster
require_migrate

# the pg_dump of the server's major version: the one beside pg_config, else the one on PATH
pg_dump_bin=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null)/pg_dump
[ -x "$pg_dump_bin" ] || pg_dump_bin=$(command -v pg_dump) || fail_setup "pg_dump not found"

use_database mosta_migrate_schema_$$
bare=mosta_migrate_schema_bare_$$
cleanup_extra() {
	migrate_cleanup
	dropdb --if-exists "$bare" >/dev/null 2>&1
}
psql_db -c "CREATE EXTENSION mostajs" || { not_ok "CREATE EXTENSION mostajs"; finish; }

# 1. check
if "$MIGRATE_BINARY" check "$mapping" >"$work/check.out" 2>"$work/check.err"; then
	ok "check accepts the shop mapping"
else
	not_ok "check accepts the shop mapping: $(cat "$work/check.err")"
fi
order=$(sed -n 's/^ *[0-9]*\. \([a-z_]*\) → .*/\1/p' "$work/check.out" | tr '\n' ' ')
position() { tr ' ' '\n' <<<"$order" | grep -nx "$1" | cut -d: -f1; }
if [ "$(position users)" = 1 ] && [ "$(position payments)" -gt "$(position purchase_requests)" ] &&
	[ "$(position funds_ledger)" -gt "$(position payments)" ]; then
	ok "check prints the load order parents first ($order)"
else
	not_ok "check prints the load order parents first: $order"
fi

# 2. schema
if "$MIGRATE_BINARY" schema "$mapping" >"$work/schema.sql" 2>"$work/schema.err" &&
	head -2 "$work/schema.sql" | grep -qx 'BEGIN;' && grep -q 'CREATE TABLE IF NOT EXISTS "public"."payments"' "$work/schema.sql"; then
	ok "schema prints the DDL in a transaction"
else
	not_ok "schema prints the DDL in a transaction: $(cat "$work/schema.err")"
fi
tables=$(grep -c '^CREATE TABLE IF NOT EXISTS' "$work/schema.sql")

if "$MIGRATE_BINARY" schema "$mapping" --apply --target "dbname=$db" >"$work/apply1.out" 2>"$work/apply1.err" &&
	grep -q "($tables created, 0 already there)" "$work/apply1.out"; then
	ok "schema --apply creates the $tables tables"
else
	not_ok "schema --apply creates the $tables tables: $(cat "$work/apply1.out" "$work/apply1.err")"
fi
count=$(scalar "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$count" = "$tables" ] && ok "the database holds $tables tables" || not_ok "the database holds $count tables, not $tables"

invariants=$(scalar "SELECT string_agg(i.table::text || ':' || i.kind || ':' || array_to_string(i.columns, ','), ' ')
                       FROM mosta_invariants() i WHERE i.present")
for expected in users:sparse_unique:email users:sparse_unique:referral_code payments:polymorphic_ref:purchase_request \
	funds_ledger_entries:sparse_unique:idempotency_key; do
	if [[ " $invariants " == *" $expected "* ]]; then
		ok "invariant $expected declared"
	else
		not_ok "invariant $expected declared (have: $invariants)"
	fi
done
[ "$(scalar "SELECT count(*) FROM mosta_check_invariants()")" = 0 ] &&
	ok "mosta_check_invariants finds nothing wrong" || not_ok "mosta_check_invariants: $(scalar "SELECT * FROM mosta_check_invariants()")"
[ "$(scalar "SELECT ts_column || ' ' || ttl FROM mosta.ttl WHERE tbl = 'chats'::regclass")" = "created_at 3650 days" ] &&
	ok "the chats TTL is declared" || not_ok "the chats TTL: $(scalar "SELECT * FROM mosta.ttl")"
policies=$(scalar "SELECT string_agg(collection || '=' || policy || '/' || require_objectid, ' ' ORDER BY collection) FROM mosta.id_policies")
[[ "$policies" == *"users=objectid/true"* ]] && [ "$(wc -w <<<"$policies")" = "$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["collections"]))' "$mapping")" ] &&
	ok "an id policy per collection ($policies)" || not_ok "id policies: $policies"
[ "$(scalar "SELECT count(*) FROM pg_indexes WHERE tablename = 'payments' AND indexdef LIKE 'CREATE UNIQUE INDEX%WHERE%' AND indexname NOT LIKE '%sparse%'")" -ge 1 ] &&
	ok "the partial unique index of payments exists" || not_ok "no partial unique index on payments"
[ "$(scalar "SELECT confdeltype FROM pg_constraint WHERE conrelid = 'payment_items'::regclass AND contype = 'f'")" = c ] &&
	ok "a child table's parent key cascades deletes" || not_ok "payment_items' foreign key does not cascade"

snapshot() {
	"$pg_dump_bin" --schema-only --no-owner "$db" | grep -v '^\\\(un\)\?restrict ' >"$work/$1.dump" &&
		psql -X -At -d "$db" -c "SELECT count(*) FROM mosta.activity" \
			-c "SELECT string_agg(i::text, ';' ORDER BY i::text) FROM mosta.invariants i" \
			-c "SELECT string_agg(p.collection || p.policy || p.updated_at, ';' ORDER BY 1) FROM mosta.id_policies p" \
			-c "SELECT string_agg(t.tbl::text || t.ttl, ';') FROM mosta.ttl t" >"$work/$1.rows"
}
snapshot first
if "$MIGRATE_BINARY" schema "$mapping" --apply --target "dbname=$db" >"$work/apply2.out" 2>"$work/apply2.err" &&
	grep -q "(0 created, $tables already there)" "$work/apply2.out"; then
	ok "a second schema --apply succeeds and finds every table there"
else
	not_ok "a second schema --apply: $(cat "$work/apply2.out" "$work/apply2.err")"
fi
snapshot second
cmp -s "$work/first.dump" "$work/second.dump" && ok "the second run changes no DDL (pg_dump --schema-only identical)" ||
	not_ok "the second run changed the schema: $(diff "$work/first.dump" "$work/second.dump" | head -20)"
cmp -s "$work/first.rows" "$work/second.rows" && ok "nor a catalog row (activity, invariants, id policies, ttl)" ||
	not_ok "the second run changed catalog rows: $(diff "$work/first.rows" "$work/second.rows")"

# 3. infer
start_shop_mongo
load_shop --scale 0.2
if "$MIGRATE_BINARY" infer --source "$mongo_uri" --name inferred >"$work/inferred.json" 2>"$work/infer.err" &&
	"$MIGRATE_BINARY" infer --source "$mongo_uri" --name inferred 2>/dev/null | cmp -s - "$work/inferred.json"; then
	ok "infer prints a mapping of the shop data set, the same twice"
else
	not_ok "infer: $(cat "$work/infer.err")"
fi
python3 - "$work/inferred.json" "$work/inferred_schema.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["target"]["schema"] = "inferred"
json.dump(m, open(sys.argv[2], "w"), indent=1)
PY
if "$MIGRATE_BINARY" check "$work/inferred.json" >"$work/check_inferred.out" 2>&1; then
	ok "check accepts the inferred mapping as it is ($(head -1 "$work/check_inferred.out" | sed 's/.*valid; //'))"
else
	not_ok "check of the inferred mapping: $(cat "$work/check_inferred.out")"
fi
if "$MIGRATE_BINARY" schema "$work/inferred_schema.json" --apply --target "dbname=$db" >"$work/apply_inferred.out" 2>&1 &&
	[ "$(scalar "SELECT count(*) FROM pg_tables WHERE schemaname = 'inferred'")" = "$(grep -c '"table":' "$work/inferred.json")" ]; then
	ok "schema --apply creates the inferred mapping's tables"
else
	not_ok "schema --apply of the inferred mapping: $(cat "$work/apply_inferred.out")"
fi
grep -q '"sparse_unique": \["email"\]' "$work/inferred.json" && grep -q '"ttl": "created_at"' "$work/inferred.json" &&
	grep -q '"partial_unique":' "$work/inferred.json" && grep -q '"polymorphic": "purchase_request"' "$work/inferred.json" &&
	ok "infer carried over the sparse unique, partial unique and TTL indexes and the polymorphic reference" ||
	not_ok "infer's indexes and references: $(grep -n 'indexes\|sparse\|ttl\|partial\|polymorphic' "$work/inferred.json")"

# 4. bad input
sed 's/"position_column": "position", "extra_column": "extra",/"position_colum": "position", "extra_column": "extra",/' \
	"$mapping" >"$work/typo.json"
line=$(grep -n '"position_colum"' "$work/typo.json" | head -1 | cut -d: -f1)
"$MIGRATE_BINARY" check "$work/typo.json" >/dev/null 2>"$work/typo.err"
status=$?
if [ "$status" = 1 ] && grep -q "^mosta-migrate check: FAILED: $work/typo.json:$line:[0-9]*: unknown key \"position_colum\" in a child_table; did you mean \"position_column\"?" "$work/typo.err"; then
	ok "check refuses a typo with FILE:LINE:COL and the fix"
else
	not_ok "check refuses a typo with FILE:LINE:COL (exit $status): $(cat "$work/typo.err")"
fi
"$MIGRATE_BINARY" schema "$work/typo.json" --apply --target "dbname=$db" >/dev/null 2>"$work/typo2.err"
[ $? = 1 ] && grep -q "typo.json:$line:" "$work/typo2.err" && ok "so does schema --apply" ||
	not_ok "schema --apply of a bad mapping: $(cat "$work/typo2.err")"

cat >"$work/cycle.json" <<'JSON'
{"name": "cycle", "collections": [
  {"collection": "a", "fields": [{"path": "b", "column": "b_id", "references": "b"}]},
  {"collection": "b", "fields": [{"path": "a", "column": "a_id", "references": "a"}]}]}
JSON
"$MIGRATE_BINARY" check "$work/cycle.json" >/dev/null 2>"$work/cycle.err"
[ $? = 1 ] && grep -q "cycle.json:2:3: the references form a cycle: a → b → a" "$work/cycle.err" &&
	ok "a reference cycle is named" || not_ok "a reference cycle: $(cat "$work/cycle.err")"

"$MIGRATE_BINARY" schema "$mapping" --apply >/dev/null 2>"$work/usage.err"
[ $? = 2 ] && grep -q -- "--apply needs --target" "$work/usage.err" && ok "--apply without --target is a usage error" ||
	not_ok "--apply without --target: $(cat "$work/usage.err")"

createdb "$bare" || not_ok "createdb $bare"
"$MIGRATE_BINARY" schema "$mapping" --apply --target "dbname=$bare" >/dev/null 2>"$work/bare.err"
[ $? = 1 ] && grep -q "the mostajs extension is not installed" "$work/bare.err" &&
	[ "$(psql -X -At -d "$bare" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ] &&
	ok "a database without mostajs is refused, nothing created" || not_ok "without mostajs: $(cat "$work/bare.err")"

psql -X -q -d "$bare" -c "CREATE EXTENSION mostajs" -c "CREATE TABLE users (id uuid PRIMARY KEY, legacy_object_id text)" ||
	not_ok "stale table setup"
"$MIGRATE_BINARY" schema "$mapping" --apply --target "dbname=$bare" >/dev/null 2>"$work/stale.err"
[ $? = 1 ] && grep -q 'table "public"."users" already exists without the mapping.s column(s) .*email' "$work/stale.err" &&
	[ "$(psql -X -At -d "$bare" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 1 ] &&
	ok "a stale table without the mapping's columns fails the run, nothing applied" ||
	not_ok "a stale table: $(cat "$work/stale.err")"

finish
