#!/usr/bin/env bash
# copy_pg_source.sh: mosta-copy's PostgreSQL source and value conversions against a live server (issue 14). Loads
# the type zoo (test/integration/lib/copy_zoo.sql) and reads it with the source through copy_pg_probe (a test-only
# driver, test/cpp/copy/support): for every table and every copied column, the checksum of the canonical batches
# (PgText converted by ConvertBatch) must equal the extension's mosta_checksum of the same columns, i.e. each
# value's converted text equals mosta.canonical_text. Then: --jobs 3 (exported snapshot) reads the same; rows
# committed after the snapshot was taken are not seen (jobs 1 and 3); a read abandoned half way; the schema model (types in dependency
# order, partitions under their root, sequences and their owners, post-data, references, the mostajs catalog left
# out, credentials masked); a composite column is refused naming it; a database without the extension reads the
# same; more types than the zoo's (arrays of every element kind, int2vector, box[], ranges, ...) convert as the
# extension encodes them; a hot standby reads the same. Every read also converts each canonical value back and
# checks it is PostgreSQL's own text again (the probe fails otherwise). Prints "copy_pg_source: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init copy_pg_source
require_cluster

PROBE=${MOSTA_COPY_PG_PROBE:-build/test/cpp/copy/copy_pg_probe}
[ -x "$PROBE" ] || fail_setup "$PROBE not found: cmake --build build -j2 --target copy_pg_probe"

use_database mosta_copy_pg_$$
plain=${db}_plain
more=${db}_more
standby_dir=
cleanup_extra() {
	dropdb --if-exists "$plain" >/dev/null 2>&1
	dropdb --if-exists "$more" >/dev/null 2>&1
	[ -n "$standby_dir" ] && scripts/pg-cluster stop "$standby_dir" >/dev/null 2>&1
}
uri="postgresql://$PGUSER:s3cret@$PGHOST:$PGPORT/$db"

psql_db -o /dev/null -c "CREATE EXTENSION mostajs" -f test/integration/lib/copy_zoo.sql ||
	fail_setup "cannot load the zoo"

# expected_checksums PROBE_OUTPUT DB: the same lines computed by mosta_checksum in DB (the extension's).
expected_checksums() {
	python3 - "$1" >"$work/expected.sql" <<'PY'
import sys
tables = {}
for line in open(sys.argv[1]):
    table, column, _, _ = line.rstrip('\n').split('\t')
    tables.setdefault(table, [])
    if column != '*':
        tables[table].append(column)
lit = lambda s: "'" + s.replace("'", "''") + "'"
ident = lambda s: '"' + s.replace('"', '""') + '"'
def rel(table):
    schema, name = table.split('.', 1)
    return lit(ident(schema) + '.' + ident(name)) + '::regclass'
def arr(columns):
    return 'ARRAY[' + ','.join(lit(c) for c in columns) + ']::text[]'
queries = []
for table, columns in tables.items():
    if columns:  # (no zoo table is without copied columns)
        queries.append(f"SELECT {lit(table)}, '*', row_count, checksum FROM mosta_checksum({rel(table)}, {arr(columns)})")
    for c in columns:
        queries.append(f"SELECT {lit(table)}, {lit(c)}, row_count, checksum FROM mosta_checksum({rel(table)}, {arr([c])})")
print('COPY (' + ' UNION ALL '.join(queries) + ") TO STDOUT;")
PY
	psql -X -q -v ON_ERROR_STOP=1 -d "$2" -f "$work/expected.sql" | LC_ALL=C sort
}

# 1. every column of every zoo table: converted text = mosta.canonical_text
if "$PROBE" checksums "$uri" 1 >"$work/jobs1" 2>"$work/err"; then
	ok "the source reads every zoo table (jobs 1)"
else
	not_ok "the source reads every zoo table (jobs 1): $(cat "$work/err")"
	finish
fi
expected_checksums "$work/jobs1" "$db" >"$work/expected"
for table in $(cut -f1 "$work/jobs1" | sort -u | tr ' ' '#'); do
	table=${table//#/ }
	if diff <(grep -F "$table	" "$work/jobs1") <(grep -F "$table	" "$work/expected") >"$work/diff"; then
		ok "$table: every copied column's checksum equals mosta_checksum ($(grep -cF "$table	" "$work/jobs1") lines)"
	else
		not_ok "$table: checksums differ from mosta_checksum"
		sed 's/^/#   /' "$work/diff"
	fi
done
if grep -q $'^zoo.values\ttwice_q\t' "$work/jobs1"; then
	not_ok "the generated column is copied"
else
	ok "the generated column zoo.values.twice_q is not copied"
fi
if [ "$(grep -c $'\t\\*\t' "$work/jobs1")" -eq 7 ]; then
	ok "7 tables read (partitions under their root, mosta's catalog left out)"
else
	not_ok "7 tables read: got $(grep $'\t\\*\t' "$work/jobs1" | cut -f1 | tr '\n' ' ')"
fi

# 2. parallel readers share the exported snapshot
if "$PROBE" checksums "$uri" 3 >"$work/jobs3" 2>"$work/err" && diff -q "$work/jobs1" "$work/jobs3" >/dev/null; then
	ok "--jobs 3 reads the same rows"
else
	not_ok "--jobs 3 reads the same rows: $(cat "$work/err")"
fi

# 3. what commits after the snapshot is not seen, by the main connection nor by the workers
late="INSERT INTO zoo.events VALUES (now(), 'late', NULL); INSERT INTO zoo.measures VALUES (1000, 'eu', 1);
      UPDATE zoo.values SET t = 'changed' WHERE id = 1; UPDATE zoo.customers SET name = 'bobby' WHERE id = 2"
for jobs in 1 3; do
	if "$PROBE" checksums "$uri" "$jobs" "$late" >"$work/late$jobs" 2>"$work/err" &&
		diff -q "$work/jobs1" "$work/late$jobs" >/dev/null; then
		ok "jobs $jobs: rows changed after the snapshot are not seen"
	else
		not_ok "jobs $jobs: rows changed after the snapshot are not seen: $(cat "$work/err")"
	fi
	psql_db -c "DELETE FROM zoo.events WHERE kind = 'late'; DELETE FROM zoo.measures WHERE id = 1000;
		UPDATE zoo.values SET t = 'plain' WHERE id = 1; UPDATE zoo.customers SET name = 'bob' WHERE id = 2" ||
		not_ok "undo the late changes"
done
if "$PROBE" checksums "$uri" 1 >"$work/after" 2>"$work/err" &&
	expected_checksums "$work/after" "$db" >"$work/expected_after" && diff -q "$work/after" "$work/expected_after" >/dev/null; then
	ok "a second read matches mosta_checksum again"
else
	not_ok "a second read matches mosta_checksum again"
fi

# 3b. a read stopped half way (the runner aborting): cancelled at once; with --jobs 1 a cancelled COPY fails the
# snapshot's transaction and later reads say so (unless the cancel came after the COPY had ended: then they read
# every row), with workers the others read on
rows_of() { grep $'\t\\*\t' "$work/jobs1" | cut -f1,3 | tr '\t' ' '; }
if timeout 60 "$PROBE" abandon "$uri" 1 zoo.measures >"$work/abandon1" 2>"$work/err" &&
	{ [ "$(grep -c 'error: .*a table read was abandoned, the snapshot is lost$' "$work/abandon1")" -eq 7 ] ||
		diff <(sed 1d "$work/abandon1" | sort) <(rows_of | sort) >/dev/null; }; then
	ok "jobs 1: after a read abandoned half way, later reads fail saying the snapshot is lost (or read every row)"
else
	not_ok "jobs 1: a read abandoned half way: $(cat "$work/abandon1" "$work/err")"
fi
if timeout 60 "$PROBE" abandon "$uri" 2 zoo.measures >"$work/abandon2" 2>"$work/err" &&
	grep -qx 'zoo.values 4' "$work/abandon2" && grep -qx 'zoo.measures 300' "$work/abandon2"; then
	ok "jobs 2: a read abandoned half way, the next readers read every table"
else
	not_ok "jobs 2: a read abandoned half way: $(cat "$work/abandon2" "$work/err")"
fi

# 4. the schema model
if "$PROBE" schema "$uri" >"$work/schema.json" 2>"$work/err"; then
	ok "the schema document is written"
else
	not_ok "the schema document is written: $(cat "$work/err")"
fi
python3 - "$work/schema.json" "$db" >"$work/schema_checks" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
db = sys.argv[2]
def check(condition, text):
    print(('ok ' if condition else 'not_ok ') + text)
snap = doc['snapshot']
check(snap['source'].endswith('/' + db) and 's3cret' not in open(sys.argv[1]).read() and '***' in snap['source'],
      'snapshot.source is the URI with its password masked: ' + snap['source'])
check(snap['lsn'].count('/') == 1 and snap['time'].endswith('+00:00') and 'T' in snap['time'] and snap['extension'],
      'snapshot: lsn %s, time %s, extension %s' % (snap['lsn'], snap['time'], snap['extension']))
types = [(t['schema'] + '.' + t['name'], t['kind']) for t in doc['types']]
check(sorted(types) == [('zoo.code', 'domain'), ('zoo.mood', 'enum'), ('zoo.qty', 'domain')], 'types: %s' % types)
qty = next(t for t in doc['types'] if t['name'] == 'qty')
check(qty['base_type'] == 'integer' and qty['not_null'] and qty['default'] == '0'
      and qty['checks'] == ['CONSTRAINT qty_check CHECK ((VALUE >= 0))'], 'domain zoo.qty: %s' % qty)
mood = next(t for t in doc['types'] if t['name'] == 'mood')
check(mood['labels'] == ['sad', 'ok', 'happy'], 'enum labels in sort order: %s' % mood['labels'])
tables = {t['schema'] + '.' + t['name']: t for t in doc['tables']}
check(not any(name.startswith('mosta.') for name in tables), "the extension's tables are left out")
order = [t['schema'] + '.' + t['name'] for t in doc['tables']]
check(order.index('zoo.customers') < order.index('zoo.values') and order.index('zoo.customers') < order.index('app.tickets'),
      'tables in foreign-key order: %s' % order)
values = tables['zoo.values']
cols = {c['name']: c for c in values['columns']}
check(cols['q']['type'] == 'zoo.qty' and cols['q']['base_type'] == 'integer' and cols['moods']['type'] == 'zoo.mood[]'
      and cols['twice_q']['generated'] != '' and cols['id']['default'].startswith('nextval('),
      'zoo.values columns: domain base type, enum array, generated expression, serial default')
check(any('values_tstz_idx' in s for s in values['post_data']) and any('PRIMARY KEY (id)' in s for s in values['post_data'])
      and len(values['check_constraints']) == 1 and values['references'] == ['zoo.customers'],
      'zoo.values post-data, check, references: %s %s' % (values['post_data'], values['check_constraints']))
measures = tables['zoo.measures']
parts = [(p['name'], p['parent_name'], p['bound'], p['partition_key']) for p in measures['partitions']]
check(measures['partition_key'] == 'LIST (region)' and len(parts) == 5
      and ('measures_us_low', 'measures_us', 'FOR VALUES FROM (MINVALUE) TO (100)', '') in parts
      and ('measures_us', 'measures', "FOR VALUES IN ('us')", 'RANGE (id)') in parts
      and [p[0] for p in parts].index('measures_us') < [p[0] for p in parts].index('measures_us_low')
      and measures['post_data'][0].startswith('ALTER TABLE "zoo"."measures" ADD CONSTRAINT measures_pkey'),
      'zoo.measures: partitions under the root, parents first, no ONLY: %s' % parts)
seqs = {s['schema'] + '.' + s['name']: s for s in doc['sequences']}
check(seqs['app.ticket_seq']['last_value'] == 115 and seqs['app.ticket_seq']['is_called']
      and seqs['app.ticket_seq']['increment'] == 5 and seqs['app.ticket_seq']['owned_by_table'] == '',
      'app.ticket_seq: %s' % seqs['app.ticket_seq'])
check(seqs['zoo.customers_id_seq']['identity'] and seqs['zoo.customers_id_seq']['owned_by_column'] == 'id'
      and seqs['zoo.values_id_seq']['owned_by_table'] == 'zoo.values' and not seqs['zoo.values_id_seq']['identity'],
      'identity and serial sequences with their owners')
PY
[ -s "$work/schema_checks" ] || not_ok "the schema checks ran"
while read -r line; do
	case $line in
	"ok "*) ok "${line#ok }" ;;
	*) not_ok "${line#not_ok }" ;;
	esac
done <"$work/schema_checks"

# 5. a composite column is refused, naming the column
psql_db -c "CREATE TYPE zoo.pair AS (a int, b text); CREATE TABLE zoo.bad (id int, p zoo.pair)" || not_ok "composite setup"
if "$PROBE" schema "$uri" >/dev/null 2>"$work/err"; then
	not_ok "a composite column is refused"
elif grep -q 'zoo.bad.p' "$work/err" && grep -q 'composite' "$work/err"; then
	ok "a composite column is refused: $(cat "$work/err")"
else
	not_ok "a composite column is refused with a clear message: $(cat "$work/err")"
fi
psql_db -c "DROP TABLE zoo.bad; DROP TYPE zoo.pair" || not_ok "composite cleanup"

# 6. the extension is not needed on the source
if ! createdb "$plain" || ! psql -X -q -v ON_ERROR_STOP=1 -d "$plain" -o /dev/null -f test/integration/lib/copy_zoo.sql; then
	fail_setup "cannot load the zoo without the extension"
fi
plain_uri="postgresql://$PGUSER@$PGHOST:$PGPORT/$plain"
if "$PROBE" checksums "$plain_uri" 2 >"$work/plain" 2>"$work/err" && diff -q "$work/jobs1" "$work/plain" >/dev/null &&
	"$PROBE" schema "$plain_uri" | grep -q '"extension":false'; then
	ok "a database without mostajs reads the same (extension: false)"
else
	not_ok "a database without mostajs reads the same: $(cat "$work/err")"
fi

# 6b. more types than the zoo's: arrays of every kind the conversions treat apart, domains over arrays and arrays
# of domains, BC and infinite values in arrays, box[] (';' between elements), ranges, int2vector, money, xml, ...
if ! createdb "$more" || ! psql -X -q -v ON_ERROR_STOP=1 -d "$more" -o /dev/null <<'SQL'; then
CREATE EXTENSION mostajs;
CREATE SCHEMA x;
CREATE TYPE x.color AS ENUM ('red', 'with space', 'q"uote');
CREATE DOMAIN x.day AS date CHECK (VALUE > '4000-01-01 BC');
CREATE DOMAIN x.days AS x.day[];
CREATE DOMAIN x.flags AS boolean[];
CREATE DOMAIN x.stamp AS timestamptz(3);
CREATE TABLE x.more (
	id int PRIMARY KEY,
	f4a real[], f8a float8[], na numeric(6,2)[], ba boolean[], bya bytea[], ua uuid[], ja json[], tsa timestamp[],
	tza timestamptz[], da date[], iva interval[], boxa box[], ca char(3)[], cola x.color[], dd x.days, df x.flags,
	dayarr x.day[], st x.stamp, tz timetz, r tstzrange, ir int4range[], mo money, bits bit varying(8), x xml,
	o oid, nm name, pt point, ih int2vector, cidr_ cidr, mac macaddr, tsv tsvector, i8a bigint[][]
);
INSERT INTO x.more VALUES
 (1, '{1.5,NaN,-Infinity,1e-10,3.4e38}', '{0.1,-0,1e300,Infinity}', '{1.50,-0.01,NaN}', '{t,f,NULL}',
  '{"\\x00ff",NULL,"\\x"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', ARRAY['{"a":  1}', 'null', '"s"']::json[],
  '{"2024-05-01 12:30:00.123456","0010-01-01 00:00 BC",infinity}',
  '{"2024-05-01 10:30:00.5+02","0044-03-15 12:00+00 BC",-infinity}', '{2024-05-01,"0001-01-01 BC",infinity}',
  '{"1 year 2 mons","-1 days -02:00:00",0}', '{(1,2),(0,0);(3,3),(1,1)}', '{"a","ab ",""}',
  '{red,"with space","q\"uote"}', '{2024-05-01,"0044-03-15 BC"}', '{t,NULL}', '{"0001-01-01 BC"}',
  '2024-05-01 10:30:00.123+02', '12:00+05:30', '[2024-05-01 00:00+00,)', '{"[1,5)",empty}', 12.34, B'101',
  '<a>x</a>', 4294967295, 'nm', '(1.5,2)', '1 2', '10.0.0.0/8', '08:00:2b:01:02:03', 'a fat cat', '{{1,2},{3,NULL}}'),
 (2, '{}', NULL, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}',
  '-infinity', '00:00+00', 'empty', '{}', -1, B'', '', 0, '', '(0,0)', '', '::/0', '00:00:00:00:00:00', '', '{}');
SQL
	fail_setup "cannot create the table of more types"
fi
more_uri="postgresql://$PGUSER@$PGHOST:$PGPORT/$more"
if "$PROBE" checksums "$more_uri" 1 >"$work/more" 2>"$work/err"; then
	ok "x.more reads, and every value converted to canonical text and back is PostgreSQL's text again"
else
	not_ok "x.more reads and converts back: $(cat "$work/err")"
fi
expected_checksums "$work/more" "$more" >"$work/more_expected"
if [ -s "$work/more" ] && diff "$work/more" "$work/more_expected" >"$work/diff"; then
	ok "x.more: every copied column's checksum equals mosta_checksum ($(wc -l <"$work/more") lines)"
else
	not_ok "x.more: checksums differ from mosta_checksum"
	sed 's/^/#   /' "$work/diff"
fi

# 7. a hot standby: REPEATABLE READ and the exported snapshot work there too
start_standby copy_pg_source_standby standby_dir standby_port
primary_lsn=$(scalar "SELECT pg_current_wal_lsn()")
caught_up() {
	[ "$(psql -X -At -p "$standby_port" -d "$db" -c "SELECT pg_last_wal_replay_lsn() >= '$primary_lsn'" 2>/dev/null)" = t ]
}
poll_until 60 caught_up || not_ok "the standby catches up"
standby_uri="postgresql://$PGUSER@$PGHOST:$standby_port/$db"
if "$PROBE" checksums "$standby_uri" 2 >"$work/standby" 2>"$work/err" && diff -q "$work/after" "$work/standby" >/dev/null; then
	ok "a hot standby reads the same rows (jobs 2)"
else
	not_ok "a hot standby reads the same rows (jobs 2): $(cat "$work/err")"
fi

finish
