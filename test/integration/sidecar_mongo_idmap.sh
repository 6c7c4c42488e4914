#!/usr/bin/env bash
# sidecar_mongo_idmap.sh: rows migrated from MongoDB keep their ObjectId in a MongoDB target (docs/mongodb.md,
# "_id"). A table keyed by uuid whose ids come from mosta_map_id under policy objectid (the id_map collection is the
# table's name), plus one row with a uuid id_map does not know; a cdc rule into mosta-test-mongod; after
# `mosta-sidecar --once` the mapped rows' documents have _id ObjectId(<legacy id>) and the other a uuid _id; an update
# and a delete of a mapped row reach the same document. The daemon runs as a mosta_sidecar member (it reads
# mosta.id_map). Prints "sidecar_mongo_idmap: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_mongo_idmap
require_cluster
require_sidecar
require_test_mongod
require_pymongo

# lib/tap.sh: $db, $work, psql_db, scalar, the exit trap (which calls cleanup_extra)
use_database mosta_sidecar_mongo_idmap_$$
role=mosta_mongo_idmap_$$
server=
cleanup_extra() {
	[ -n "$server" ] && kill -9 "$server" 2>/dev/null && wait "$server" 2>/dev/null
	psql -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
}

start_mongo_target idmap # mosta-test-mongod, or MOSTA_TEST_MONGO_URI's server (lib/tap.sh)

psql_db -o /dev/null -v uri="host=$PGHOST port=$PGPORT dbname=$db" -v mongo="$mongo_uri" <<SQL || { not_ok "schema and catalog"; finish; }
CREATE EXTENSION mostajs;
CREATE ROLE $role LOGIN REPLICATION IN ROLE mosta_sidecar, pg_read_all_data;
CREATE TABLE users (id uuid PRIMARY KEY, name text NOT NULL);
SELECT mosta_set_id_policy('users', 'objectid', require_objectid => true);
INSERT INTO users VALUES (mosta_map_id('users', '507f1f77bcf86cd799439011'), 'ada'),
                         (mosta_map_id('users', '507F1F77BCF86CD799439012'), 'grace'),
                         ('00000000-0000-4000-8000-000000000001', 'not migrated');
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['users']);
SQL

# ids PRINT: "<_id type>:<_id>=<name>" of every document, sorted
ids() {
	"$python" - "$mongo_uri" <<'PY'
import sys, pymongo
docs = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=5000).get_default_database().users.find()
print(" ".join(sorted(f"{type(d['_id']).__name__}:{d['_id']}={d['name']}" for d in docs)))
PY
}

once() { PGDATABASE=$db PGUSER=$role "$BINARY" --once 2>>"$work/log.once"; }
if once; then ok "--once exits 0"; else not_ok "--once exits 0"; tail -20 "$work/log.once" >&2; fi
expected="ObjectId:507f1f77bcf86cd799439011=ada ObjectId:507f1f77bcf86cd799439012=grace UUID:00000000-0000-4000-8000-000000000001=not migrated"
got=$(ids)
if [ "$got" = "$expected" ]; then ok "mapped rows keep their legacy ObjectId as _id, the other a uuid"; else not_ok "ids after the copy: '$got'"; fi

psql_db -c "UPDATE users SET name = 'ada lovelace' WHERE id = mosta_lookup_id('users', '507f1f77bcf86cd799439011')" \
	-c "DELETE FROM users WHERE id = mosta_lookup_id('users', '507f1f77bcf86cd799439012')" \
	-c "INSERT INTO users VALUES (mosta_map_id('users', '507f1f77bcf86cd799439013'), 'alan')" >/dev/null
if once; then ok "--once after changes exits 0"; else not_ok "--once after changes exits 0"; tail -20 "$work/log.once" >&2; fi
expected="ObjectId:507f1f77bcf86cd799439011=ada lovelace ObjectId:507f1f77bcf86cd799439013=alan UUID:00000000-0000-4000-8000-000000000001=not migrated"
got=$(ids)
if [ "$got" = "$expected" ]; then ok "update, delete and insert reach the ObjectId documents"; else not_ok "ids after the changes: '$got'"; fi

finish
