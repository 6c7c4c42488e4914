#!/usr/bin/env bash
# sidecar_rollback.sh: a target rolled back under its slot is copied again, loudly (issue 10, item 1), cluster of
# PGHOST/PGPORT/PGUSER as scripts/pg-cluster run provides. A cdc rule r1 copies table t into a SQLite file, an
# SQL dump, a JSON archive (relative paths: they live in the data directory, $work) and a MongoDB database
# (mosta-test-mongod, or MOSTA_TEST_MONGO_URI's server; read with pymongo). After the copy, the SQLite file, the
# archive directory and the MongoDB documents with their checkpoint are saved and the dump's size noted (all at the
# copy's checkpoint); changes are streamed (the slots then confirm past that checkpoint); the SQLite file, the
# archive and the MongoDB database are restored from the saved copies and the dump cut back to its size; more changes are
# written; the next run must notice that each target's checkpoint is behind its slot's confirmed_flush_lsn (what
# PostgreSQL would resume from), say so (WARNING line, mosta.activity row target_rolled_back, target warning,
# resnapshots 1) and copy again: "mosta-sidecar verify r1" then exits 0, and the dump replays into an empty
# database equal to the source. Without the check, the rows of the lost stream would be missing from both.
# Prints "sidecar_rollback: N passed, N failed"; exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
tap_init sidecar_rollback
require_cluster
require_sidecar
require_test_mongod
require_pymongo

# lib/tap.sh: $db (created), $work (MOSTA_DATA_DIR), psql_db, scalar, run_once and the exit trap
use_database mosta_sidecar_rollback_$$
replay=${db}_replay
server=
cleanup_extra() {
	dropdb --if-exists "$replay" >/dev/null 2>&1
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
}
start_mongo_target rollback_$$

# mongo_state save|restore FILE: the MongoDB database's documents of t and its checkpoints, saved to or put back
# from FILE (extended JSON), as a restore of an older backup of the database would
mongo_state() {
	"$python" - "$mongo_uri" "$1" "$2" <<'PY'
import sys, pymongo
from bson import json_util
uri, action, path = sys.argv[1:]
db = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000).get_default_database()
names = ["t", "_mosta_checkpoints"]
if action == "save":
    open(path, "w").write(json_util.dumps({n: list(db[n].find()) for n in names}))
else:
    state = json_util.loads(open(path).read())
    for n in names:
        db[n].delete_many({})
        if state[n]:
            db[n].insert_many(state[n])
PY
}

psql_db <<'SQL' || { not_ok "source schema"; finish; }
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT i, 'copied ' || i FROM generate_series(1, 20) i;
CREATE EXTENSION mostajs;
SQL
uri="host=$PGHOST port=$PGPORT dbname=$db user=$PGUSER"
psql_db -o /dev/null -v uri="$uri" -v mongo_uri="$mongo_uri" <<'SQL' || { not_ok "catalog"; finish; }
SELECT mosta_add_replica('app', 'master', 'master', 'postgres', :'uri');
SELECT mosta_add_replica('app', 'lite', 'slave', 'sqlite', 'app.db');
SELECT mosta_add_replica('app', 'dump', 'slave', 'sqldump', 'app.sql');
SELECT mosta_add_replica('app', 'archive', 'slave', 'jsonl', 'archive');
SELECT mosta_add_replica('app', 'mongo', 'slave', 'mongodb', :'mongo_uri');
SELECT mosta_add_rule('r1', 'app', 'app', 'cdc', ARRAY['t']);
SQL

run_once copy
[ -f "$work/app.db" ] && [ -f "$work/app.sql" ] || { not_ok "relative target paths resolve in the data directory"; finish; }
ok "relative target paths resolve in the data directory"
# the backup: the sidecar has exited, so the SQLite file is whole (its WAL checkpointed and removed)
cp "$work/app.db" "$work/backup.db"
cp -a "$work/archive" "$work/backup.archive"
dump_size=$(stat -c %s "$work/app.sql")
mongo_state save "$work/backup.mongo" || not_ok "MongoDB state saved"

# streamed changes that only the rolled-back part of the targets held
psql_db -c "INSERT INTO t SELECT i, 'streamed ' || i FROM generate_series(21, 30) i" || not_ok "changes"
psql_db -c "UPDATE t SET v = 'updated' WHERE id IN (2, 3); DELETE FROM t WHERE id = 4" || not_ok "changes"
run_once stream

# roll both targets back to the copy's checkpoint
rm -f "$work/app.db-wal" "$work/app.db-shm"
cp "$work/backup.db" "$work/app.db"
truncate -s "$dump_size" "$work/app.sql"
rm -rf "$work/archive" && cp -a "$work/backup.archive" "$work/archive"
mongo_state restore "$work/backup.mongo" || not_ok "MongoDB state restored"
psql_db -c "INSERT INTO t SELECT i, 'after ' || i FROM generate_series(31, 35) i; DELETE FROM t WHERE id = 5" ||
	not_ok "changes"

run_once restart
for replica in lite dump archive mongo; do
	if grep -q "target app\.$replica: WARNING: the target holds data up to .* but slot .* already confirmed" \
		"$work/log.restart"; then
		ok "$replica: the rollback is announced in the log"
	else
		not_ok "$replica: the rollback is announced in the log"
	fi
done
got=$(scalar "SELECT string_agg(detail->>'replica', ',' ORDER BY detail->>'replica') FROM mosta.activity
               WHERE action = 'target_rolled_back' AND object = 'r1'")
if [ "$got" = "archive,dump,lite,mongo" ]; then ok "one target_rolled_back activity row per target"; else not_ok "one target_rolled_back activity row per target (got '$got')"; fi
got=$(scalar "SELECT string_agg(replica || ':' || resnapshots || ':' || (warning LIKE '%restored or cut back%'), ' '
               ORDER BY replica) FROM mosta_rule_targets() WHERE rule = 'r1'")
if [ "$got" = "archive:1:true dump:1:true lite:1:true mongo:1:true" ]; then ok "resnapshots 1 and the warning on each target"; else not_ok "resnapshots 1 and the warning on each target (got '$got')"; fi

if PGDATABASE=$db "$BINARY" verify r1 >"$work/verify.out" 2>&1; then
	ok "verify r1: the restored SQLite file and MongoDB database equal the source again"
else
	not_ok "verify r1: the restored SQLite file and MongoDB database equal the source again"
	sed 's/^/    /' "$work/verify.out" >&2
fi

# the archive's new copy: a truncate of t, then one insert per source row, after the restored files
ids=$(scalar "SELECT string_agg(id::text, ',' ORDER BY id) FROM t")
got=$(python3 - "$work/archive" <<'PY'
import glob, json, os, sys
lines = [json.loads(l) for f in sorted(glob.glob(os.path.join(sys.argv[1], "archive-*.jsonl"))) for l in open(f)]
last = max(i for i, d in enumerate(lines) if d.get("op") == "truncate")
ids = sorted(d["new"]["id"] for d in lines[last:] if d.get("op") == "insert")
print(",".join(map(str, ids)))
PY
)
if [ -n "$ids" ] && [ "$got" = "$ids" ]; then ok "the archive's new copy holds the source's rows after a truncate"; else not_ok "the archive's new copy holds the source's rows after a truncate (got '$got', source '$ids')"; fi

createdb "$replay" || { not_ok "createdb $replay"; finish; }
if psql -X -q -v ON_ERROR_STOP=1 -d "$replay" -f "$work/app.sql" >"$work/replay.log" 2>&1; then
	ok "the cut-back dump, continued, replays with psql"
else
	not_ok "the cut-back dump, continued, replays with psql"
	tail -5 "$work/replay.log" >&2
fi
expected=$(scalar "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM t")
got=$(psql -X -At -d "$replay" -c "SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM public.t" 2>&1)
if [ -n "$expected" ] && [ "$got" = "$expected" ]; then
	ok "the replayed dump equals the source ($(scalar "SELECT count(*) FROM t") rows)"
else
	not_ok "the replayed dump equals the source"
	echo "    source: $expected" >&2
	echo "    replay: $got" >&2
fi

finish
