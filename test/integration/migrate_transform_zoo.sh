#!/usr/bin/env bash
# migrate_transform_zoo.sh: the forward transform's canonical texts are what PostgreSQL holds. A zoo of documents
# (migrate_transform_zoo.py: edge cases of every column type, then seeded random values) goes through the
# transform (test/cpp/migrate/support/transform_probe), its rows into a table of those types by COPY, as the
# applier loads them (canonical text → PostgreSQL text by sink/pg_value_text.hpp); then:
#   1. COPY accepts every row;
#   2. mosta.canonical_text of every stored value equals the transform's canonical text (the list of differences
#      is printed otherwise);
#   3. mosta_checksum of the table equals the checksum of the transform's rows (verify's MongoDB side);
#   4. the documents it refuses are refused, each with its reason.
# Prints "migrate_transform_zoo: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init migrate_transform_zoo
require_cluster
PROBE=${MOSTA_TRANSFORM_PROBE:-build/test/cpp/migrate/transform_probe}
[ -x "$PROBE" ] || fail_setup "$PROBE not found: cmake --build build -j2 --target transform_probe"

use_database mosta_transform_zoo_$$

# path=column:type of the zoo's columns
fields=(
	s=s:text "vc=vc:character varying(5)" "ch=ch:character(4)" i2=i2:smallint i4=i4:integer i8=i8:bigint
	n=n:numeric "n38=n38:numeric(38,18)" "n52=n52:numeric(5,2)" "nneg=nneg:numeric(3,-2)"
	"f8=f8:double precision" f4=f4:real b=b:boolean "ts=ts:timestamp with time zone"
	"tsn=tsn:timestamp without time zone" "ts0=ts0:timestamp(0) with time zone" d=d:date u=u:uuid by=by:bytea
	j=j:jsonb js=js:json "ta=ta:text[]" "ia=ia:integer[]" "na=na:numeric[]" "fa=fa:double precision[]"
	"tsa=tsa:timestamp with time zone[]" "ba=ba:boolean[]" "ja=ja:jsonb[]" "i2d=i2d:integer[][]" "p.q=pq:text"
)
columns=(legacy_object_id)
definitions=
for field in "${fields[@]}"; do
	spec=${field#*=}
	columns+=("${spec%%:*}")
	definitions+=", ${spec%%:*} ${spec#*:}"
done
columns+=(extra)
column_list=$(IFS=,; echo "${columns[*]}")

psql_db >/dev/null <<SQL || fail_setup "zoo table"
CREATE EXTENSION mostajs;
CREATE TABLE zoo (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), legacy_object_id text NOT NULL UNIQUE
	$definitions, extra jsonb NOT NULL DEFAULT '{}');
SQL

python3 test/integration/migrate_transform_zoo.py "${MOSTA_ZOO_DOCUMENTS:-400}" >"$work/zoo.jsonl" || fail_setup "the zoo's documents"
if "$PROBE" "$work/zoo.copy" "$work/expected" "${fields[@]}" <"$work/zoo.jsonl" >"$work/checksum" 2>"$work/rejected"; then
	ok "the transform maps the zoo ($(wc -l <"$work/zoo.copy") rows, $(sed -n 's/^rejected documents: //p' "$work/rejected") documents rejected)"
else
	not_ok "the transform maps the zoo"
	cat "$work/rejected" >&2
fi

# 1. COPY takes every row, under the settings the applier's session has (kPgSessionSettingsSql)
settings="SET DateStyle = 'ISO, YMD'; SET TimeZone = 'UTC'; SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 1; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'"
if psql_db -c "$settings" -c "\\copy zoo ($column_list) FROM '$work/zoo.copy'" >"$work/copy.log" 2>&1; then
	ok "COPY takes every row the transform wrote"
else
	not_ok "COPY takes every row the transform wrote"
	cat "$work/copy.log" >&2
fi

# 2. the canonical text of every stored value is the transform's
select=
for column in "${columns[@]}"; do
	[ -n "$select" ] && select+=" UNION ALL "
	select+="SELECT legacy_object_id, '$column', mosta.canonical_text($column) FROM zoo"
done
psql_db -c "\\copy ($select) TO '$work/actual'" >/dev/null || not_ok "reading the canonical texts back"
LC_ALL=C sort "$work/expected" >"$work/expected.sorted"
LC_ALL=C sort "$work/actual" >"$work/actual.sorted"
if [ -s "$work/expected.sorted" ] && cmp -s "$work/expected.sorted" "$work/actual.sorted"; then
	ok "every stored value's canonical text is the transform's ($(wc -l <"$work/expected.sorted") values)"
else
	not_ok "every stored value's canonical text is the transform's (< transform, > PostgreSQL)"
	diff "$work/expected.sorted" "$work/actual.sorted" | head -40 >&2
fi

# 3. mosta_checksum over every column but id equals the transform's checksum
checksum_columns=$(printf "'%s'," "${columns[@]}")
stored=$(scalar "SELECT row_count || ' ' || checksum FROM mosta_checksum('zoo', ARRAY[${checksum_columns%,}])")
expected=$(cat "$work/checksum")
if [ -n "$expected" ] && [ "$stored" = "$expected" ]; then
	ok "mosta_checksum equals the checksum of the transform's rows"
else
	not_ok "mosta_checksum equals the checksum of the transform's rows: $stored, transform: $expected"
fi

# 4. the refused documents, each with a reason that names what is wrong
expect_rejected() {
	if grep -qF -- "rejected $1 $2" "$work/rejected" && grep -F -- "rejected $1 " "$work/rejected" | grep -qF -- "$3"; then
		ok "$1 is refused: $2 $3"
	else
		not_ok "$1 is refused: $2 $3"
		grep -F -- "rejected $1 " "$work/rejected" >&2
	fi
}
expect_rejected bad-0 i4 "a string cannot be stored in an integer column"
expect_rejected bad-1 i2 "out of range for smallint"
expect_rejected bad-2 i8 "not an integer"
expect_rejected bad-3 n52 "PostgreSQL would round it"
expect_rejected bad-4 n52 "at most 3 digits before the point"
expect_rejected bad-5 n38 "infinite"
expect_rejected bad-6 vc "longer than 5 characters"
expect_rejected bad-7 b "an int cannot be stored in a boolean column"
expect_rejected bad-8 ts "not an ISO 8601 date"
expect_rejected bad-9 ts "out of the timestamp range"
expect_rejected bad-10 u "not a UUID"
expect_rejected bad-11 ia.1 "a string cannot be stored"
expect_rejected bad-12 i2d "rectangular"
expect_rejected bad-13 f4 "out of range for real"
expect_rejected bad-14 s "an int cannot be stored in a text column"
if [ "$(sed -n 's/^rejected documents: //p' "$work/rejected")" = 15 ] &&
	[ "$(scalar "SELECT count(*) FROM zoo WHERE legacy_object_id LIKE 'bad-%'")" = 0 ]; then
	ok "only the 15 bad documents are refused, and none is in the table"
else
	not_ok "only the 15 bad documents are refused: $(grep -v '^rejected bad-' "$work/rejected" | head -5)"
fi

finish
