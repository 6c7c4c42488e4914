#!/usr/bin/env bash
# sidecar_verify.sh: "mosta-sidecar verify RULE" against the cluster of PGHOST/PGPORT/PGUSER (scripts/pg-cluster run).
# A cdc rule r1 copies a table with many column types (int, bigint, numeric with scale, text with NULL and '',
# boolean, timestamptz, jsonb, float8 incl. 1e+20 and 1e-05, real, bytea, uuid, an array, and a generated column,
# which is never replicated) into SQLite; after "--once" (copy, then streamed changes), verify exits 0 and prints
# matching checksums, saying the generated column is not compared. Then the SQLite file is tampered with (one row
# updated, one deleted, one inserted): verify exits 1, names those three keys and, under the updated one, the
# column that differs with both values. An unknown rule exits 2. No sleeps: --once returns only when everything committed before it started is applied.
# Prints "sidecar_verify: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_verify
require_cluster
require_sidecar
command -v sqlite3 >/dev/null || fail_setup "sqlite3 (the command-line shell) is not installed"

use_database mosta_sidecar_verify_$$

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE accounts (
	id int PRIMARY KEY, big bigint, amount numeric(12,2), note text, active boolean, opened timestamptz,
	data jsonb, ratio float8, small real, raw bytea, ref uuid, tags int[],
	twice_big bigint GENERATED ALWAYS AS (big * 2) STORED);
INSERT INTO accounts
SELECT i, i::bigint * 10000000000, i * 1.10, CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'n "' || i || '" é' END,
       i % 2 = 0, timestamptz '2024-05-01 10:30:00.25+02' + i * interval '1 day',
       jsonb_build_object('i', i, 'list', jsonb_build_array(1.50, 'x', NULL)),
       CASE i % 4 WHEN 0 THEN 1e20 WHEN 1 THEN 1e-5 WHEN 2 THEN i / 3.0 ELSE 1.0 END, i / 7.0,
       decode(md5(i::text), 'hex'), md5(i::text)::uuid, ARRAY[i, NULL, -i]
  FROM generate_series(1, 40) i;
CREATE EXTENSION mostajs;
SQL

uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v lite="$work/app.db" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', :'lite');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['accounts']);
SQL

run_once copy
# streamed changes on top of the copy
psql_db <<'SQL' || not_ok "changes"
INSERT INTO accounts (id, amount, note, ratio, raw, data) VALUES (100, 1.00, '', 1.00, '\x', '"a string"');
UPDATE accounts SET amount = 2.000, note = NULL WHERE id = 5;
DELETE FROM accounts WHERE id = 6;
SQL
run_once stream

verify() { PGDATABASE=$db "$BINARY" verify "$@" >"$work/verify.out" 2>"$work/verify.err"; }

verify r1
status=$?
sed 's/^/    /' "$work/verify.out" "$work/verify.err"
if [ "$status" -eq 0 ]; then ok "verify exits 0 on a faithful copy"; else not_ok "verify exits 0 on a faithful copy (got $status)"; fi
if grep -Eq '^  public.accounts +40 +40 +[0-9a-f]{16} +[0-9a-f]{16} +match$' "$work/verify.out"; then
	ok "verify prints the counts and matching checksums"
else
	not_ok "verify prints the counts and matching checksums"
fi
if grep -q '^    not compared (generated columns are not replicated): twice_big$' "$work/verify.out"; then
	ok "verify leaves the generated column out, and says so"
else
	not_ok "verify leaves the generated column out, and says so"
fi
source_sum=$(scalar "SELECT checksum FROM mosta_checksum('accounts', ARRAY['id', 'big', 'amount', 'note', 'active', 'opened', 'data', 'ratio', 'small', 'raw', 'ref', 'tags'])")
if grep -q "${source_sum:0:16}" "$work/verify.out"; then ok "the printed checksum is mosta_checksum's"; else not_ok "the printed checksum is mosta_checksum's"; fi

# tamper with the copy: one row changed, one deleted, one added
sqlite3 "$work/app.db" <<'SQL' || not_ok "tampering"
UPDATE "public.accounts" SET amount = '12.30', note = 'x' WHERE id = 12;
DELETE FROM "public.accounts" WHERE id = 20;
INSERT INTO "public.accounts" (id, note) VALUES (777, 'intruder');
SQL
verify r1
status=$?
sed 's/^/    /' "$work/verify.out" "$work/verify.err"
if [ "$status" -eq 1 ]; then ok "verify exits 1 on a tampered copy"; else not_ok "verify exits 1 on a tampered copy (got $status)"; fi
if grep -Eq '^  public.accounts +40 +40 .*MISMATCH$' "$work/verify.out"; then ok "verify reports the mismatch"; else not_ok "verify reports the mismatch"; fi
if grep -Eq '^    different: +12$' "$work/verify.out"; then ok "the changed key is named"; else not_ok "the changed key is named"; fi
if grep -Eq '^    missing on target: 20$' "$work/verify.out"; then ok "the deleted key is named"; else not_ok "the deleted key is named"; fi
if grep -Eq '^    extra on target: +777$' "$work/verify.out"; then ok "the added key is named"; else not_ok "the added key is named"; fi
if [ "$(grep -Ec '^    (different|missing|extra)' "$work/verify.out")" -eq 3 ]; then ok "no other key is named"; else not_ok "no other key is named"; fi
# under the changed key: each differing column with both values, and no other column
if grep -E -A3 '^    different: +12$' "$work/verify.out" | grep -q '^      column amount: source "13.20", target "12.30"$' &&
	grep -E -A3 '^    different: +12$' "$work/verify.out" | grep -q '^      column note: source NULL, target "x"$' &&
	[ "$(grep -c '^      column ' "$work/verify.out")" -eq 2 ]; then
	ok "the differing columns of the changed key are named with both values"
else
	not_ok "the differing columns of the changed key are named with both values"
fi

verify nope
status=$?
if [ "$status" -eq 2 ] && grep -q 'unknown rule "nope"' "$work/verify.err"; then
	ok "an unknown rule exits 2 and is named"
else
	not_ok "an unknown rule exits 2 and is named (got $status)"
fi
PGDATABASE=$db "$BINARY" verify >/dev/null 2>&1
status=$?
if [ "$status" -eq 2 ]; then ok "verify without a rule exits 2"; else not_ok "verify without a rule exits 2 (got $status)"; fi

finish
