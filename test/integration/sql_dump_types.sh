#!/usr/bin/env bash
# sql_dump_types.sh: the SQL dump replays into an EMPTY database to the same content when columns use
# user-defined types (issue 10 item 4). Runs mosta-sidecar against the cluster of PGHOST/PGPORT/PGUSER
# (scripts/pg-cluster run) with a sqldump slave and a cdc rule on '*' over tables using an enum in a schema whose
# name needs quotes, domains (over a builtin with CHECK and NOT NULL, over an array of the enum), a composite
# (enum and domain attributes, a collation), ranges (over float8 with subtype_diff, over the enum) and arrays of
# each, plus an extension type (citext). The initial copy, then while streaming: ALTER TYPE ... ADD VALUE used in a
# later transaction, RENAME VALUE, ADD ATTRIBUTE, a domain constraint added (ALTER DOMAIN), a new enum type on a new table, a new
# enum column through ALTER TABLE ... ADD COLUMN; a third run after a reopen adds one more label. Checks: the dump
# names citext's extension, creates each type once, psql replays it into an empty database (with only CREATE
# EXTENSION citext first), every table equals its source row by row and every enum has the source's labels in
# order. Prints "sql_dump_types: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sql_dump_types
require_cluster
require_sidecar

use_database mosta_dump_types_$$
replay=${db}_replay
cleanup_extra() { dropdb --if-exists "$replay" >/dev/null 2>&1; }
export PGTZ=UTC
dump=$work/types.sql

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE EXTENSION citext;
CREATE SCHEMA "Odd s";
CREATE TYPE "Odd s"."Mood" AS ENUM ('sad', 'happy', E'we\nird''');
CREATE DOMAIN public.qty AS int NOT NULL CHECK (VALUE >= 0);
CREATE DOMAIN public.moods AS "Odd s"."Mood"[] CHECK (cardinality(VALUE) < 5);
CREATE TYPE public.pair AS (a int, b text COLLATE "C", m "Odd s"."Mood", q public.qty);
CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TYPE "Odd s".moodrange AS RANGE (subtype = "Odd s"."Mood");
CREATE TABLE public.t (
	id int PRIMARY KEY, m "Odd s"."Mood", ms "Odd s"."Mood"[], q public.qty, qs public.qty[], d public.moods,
	p public.pair, ps public.pair[], fr public.floatrange, frs public.floatrange[], mr "Odd s".moodrange,
	mm "Odd s".moodmultirange, ci citext);
INSERT INTO public.t VALUES
	(1, 'sad', '{sad,happy}', 3, '{1,2}', '{happy}', '(1,x,happy,4)', ARRAY['(2,"y z",sad,0)'::public.pair, NULL],
	 '[1.5,2.5)', '{"[1,2)",empty}', '[sad,happy]', '{[sad,happy)}', 'MiXed'),
	(2, E'we\nird''', '{}', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE "Odd s"."Empty" (id int PRIMARY KEY, m "Odd s"."Mood");
CREATE EXTENSION mostajs;
SQL

uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v dump="$dump" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', :'dump');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['*']);
SQL

run_once copy

psql_db <<'SQL' || not_ok "changes while streaming"
ALTER TYPE "Odd s"."Mood" ADD VALUE 'calm' BEFORE 'happy';
INSERT INTO public.t (id, m, ms, q, p) VALUES (3, 'calm', '{calm,sad}', 7, '(3,c,calm,1)');
ALTER TYPE "Odd s"."Mood" RENAME VALUE 'sad' TO 'blue';
UPDATE public.t SET m = 'blue', mr = '[blue,calm)' WHERE id = 2;
ALTER TYPE public.pair ADD ATTRIBUTE extra text;
INSERT INTO public.t (id, q, p, ps) VALUES (4, 1, '(4,d,happy,2,"new attr")', ARRAY['(5,e,blue,3,x)'::public.pair]);
ALTER DOMAIN public.moods ADD CONSTRAINT moods_small CHECK (cardinality(VALUE) < 4);
CREATE SCHEMA s2;
CREATE TYPE s2.color AS ENUM ('red', 'green');
CREATE TABLE s2.paint (id int PRIMARY KEY, c s2.color, cs s2.color[], p public.pair);
INSERT INTO s2.paint VALUES (1, 'green', '{red,green}', '(1,a,blue,5,z)');
CREATE TYPE s2.size AS ENUM ('S', 'M', 'L');
ALTER TABLE public.t ADD COLUMN sz s2.size;
UPDATE public.t SET sz = 'M' WHERE id = 1;
DELETE FROM public.t WHERE id = 4;
SQL

run_once stream

# After a reopen the dump knows the types it holds from its own records: one more label, one more row.
psql_db <<'SQL' || not_ok "changes after a reopen"
ALTER TYPE s2.color ADD VALUE 'blue';
INSERT INTO s2.paint (id, c) VALUES (2, 'blue');
INSERT INTO "Odd s"."Empty" VALUES (1, 'happy');
SQL

run_once reopen

if grep -q '^-- mosta: type public.citext belongs to extension citext: run CREATE EXTENSION "citext"' "$dump"; then
	ok "the dump names the extension its citext column needs"
else
	not_ok "the dump names the extension its citext column needs"
fi
creates=$(grep -c 'CREATE TYPE "Odd s"."Mood" AS ENUM\|CREATE TYPE "s2"."color" AS ENUM\|CREATE DOMAIN "public"."qty"' "$dump")
if [ "$creates" = 3 ]; then ok "each type is created once in the dump"; else not_ok "each type is created once (found $creates)"; fi

createdb "$replay" && psql -X -q -d "$replay" -c "CREATE EXTENSION citext" >/dev/null
if PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -d "$replay" -f "$dump" \
	>"$work/replay.log" 2>&1; then
	ok "psql replays the dump into an empty database"
else
	not_ok "psql replays the dump into an empty database"
	tail -5 "$work/replay.log" >&2
fi

# same_table NAME: the table holds the same rows in the source and the replayed database.
same_table() {
	local query="SELECT row_to_json(mosta_row)::text FROM $1 mosta_row ORDER BY 1"
	psql -X -At -d "$db" -c "$query" >"$work/source.txt" && psql -X -At -d "$replay" -c "$query" >"$work/target.txt" &&
		[ -s "$work/source.txt" ] && diff "$work/source.txt" "$work/target.txt" >&2
}
for table in public.t s2.paint '"Odd s"."Empty"'; do
	if same_table "$table"; then ok "replayed $table equals its source"; else not_ok "replayed $table equals its source"; fi
done
for type in '"Odd s"."Mood"' s2.color s2.size; do
	query="SELECT enum_range(NULL::$type)::text"
	source=$(psql -X -At -d "$db" -c "$query")
	target=$(psql -X -At -d "$replay" -c "$query" 2>&1)
	if [ -n "$source" ] && [ "$source" = "$target" ]; then
		ok "enum $type has the source's labels in order"
	else
		not_ok "enum $type: source '$source', replay '$target'"
	fi
done
query="SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
	WHERE attrelid = 'public.pair'::regclass AND attnum > 0 AND NOT attisdropped"
source=$(psql -X -At -d "$db" -c "$query")
target=$(psql -X -At -d "$replay" -c "$query" 2>&1)
if [ "$source" = "$target" ]; then ok "composite public.pair has the source's attributes"; else not_ok "public.pair: source '$source', replay '$target'"; fi
checks=$(psql -X -At -d "$replay" -c "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint
	WHERE contypid IN ('public.qty'::regtype, 'public.moods'::regtype)")
if [ "$checks" = "moods_check,moods_small,qty_check" ]; then ok "domains have their constraints"; else not_ok "domain constraints: '$checks'"; fi

finish
