#!/usr/bin/env bash
# copy_cli.sh: mosta-copy as a user and cron run it, end to end on the type zoo (test/integration/lib/copy_zoo.sql):
#   - a backup of the zoo to SQLite + SQL dump + JSON in one run: exit 0, the one-line summary, the manifest next to
#     the first file, its checksums equal to mosta_checksum on the source (the copied columns: all but generated
#     ones), no password in the manifest or the output; the same with --jobs 2;
#   - verify: passes on the backup and against the live database; a corrupted file is caught (MISMATCH naming it);
#     a row changed since the backup is reported per table ("differs since the backup");
#   - each backup file restored into an empty database (--dest postgres --create-tables): same checksums;
#   - the seed's --commandFile example (paths adapted) with the ORM's entities.json: only the entities' tables;
#   - cron safety: kill -9 mid-copy leaves nothing under the final names (the temporaries are removed by the next
#     run); SIGTERM mid-copy aborts: exit 1, no final names, no temporaries; --keep 2 keeps the two newest dated
#     backups and manifests and nothing else is touched;
#   - exit codes: 2 for usage errors (a bad option, a --tables glob or entity naming no table), 1 for a failure
#     (an unreachable source), each with its message; --quiet prints the summary only.
# "Mid-copy" is made deterministic with a gate: the restore destination's database has an event trigger that
# waits for an advisory lock this script holds, so the copy stops in that destination's Begin after the file
# destinations (listed first) have created their temporaries.
#
# Runs against the cluster in PGHOST/PGPORT/PGUSER (scripts/pg-cluster run -- bash test/integration/copy_cli.sh),
# after the CMake build (MOSTA_COPY_BIN overrides the binary's path). Prints "ok"/"not ok" per check, then
# "N passed, N failed"; exits non-zero when a check failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=lib/tap.sh
source test/integration/lib/tap.sh
# shellcheck source=lib/copy.sh
source test/integration/lib/copy.sh
tap_init copy_cli
require_cluster

COPY=${MOSTA_COPY_BIN:-build/copy/mosta-copy}
[ -x "$COPY" ] || fail_setup "$COPY not found: cmake --build build -j2 --target mosta-copy"
COPY=$(realpath "$COPY")

SOURCE=copy_cli_src
DATABASES=("$SOURCE" copy_cli_gate copy_cli_r_sqlite copy_cli_r_sql-dump copy_cli_r_json)
gate_pid=
copy_pid=
server=
cleanup() {
	[ -n "$copy_pid" ] && kill -9 "$copy_pid" 2>/dev/null && wait "$copy_pid" 2>/dev/null
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	release_gate
	local db
	for db in "${DATABASES[@]}"; do dropdb --if-exists --force "$db" >/dev/null 2>&1; done
	rm -rf "$work"
}
work=$(mktemp -d "${TMPDIR:-/tmp}/mostajs-copy-cli.XXXXXX")
trap cleanup EXIT
trap 'exit 1' INT TERM
for db in "${DATABASES[@]}"; do dropdb --if-exists --force "$db" >/dev/null 2>&1; done

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

createdb "$SOURCE" || fail_setup "createdb $SOURCE"
sql -d "$SOURCE" -c "CREATE EXTENSION mostajs" -f test/integration/lib/copy_zoo.sql >/dev/null ||
	fail_setup "loading the zoo"
# a password in the URI (the cluster trusts local connections, so it is ignored): it must never be shown
SRC="postgresql://$PGUSER:s3cr3t-pw@$PGHOST:$PGPORT/$SOURCE"

# The zoo's tables: plain and partitioned tables of zoo and app, not the partitions.
TABLES=$(sql -d "$SOURCE" -c "SELECT format('%s.%s', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n
	ON n.oid = c.relnamespace WHERE n.nspname IN ('zoo', 'app') AND c.relkind IN ('r', 'p') AND NOT c.relispartition
	ORDER BY 1")



# check DESCRIPTION COMMAND...: one result, ok when COMMAND succeeds.
check() {
	local description=$1
	shift
	if "$@"; then ok "$description"; else not_ok "$description"; fi
}

# contains FILE TEXT: FILE contains TEXT (fixed string); shows FILE when not.
contains() {
	grep -qF -- "$2" "$1" && return 0
	echo "# $1 lacks: $2" >&2
	sed 's/^/#   /' "$1" >&2
	return 1
}
lacks() {
	! grep -qF -- "$2" "$1" && return 0
	echo "# $1 has: $2" >&2
	return 1
}

zoo_checksums "$SOURCE" >"$work/checksums.src"
[ "$(wc -l <"$work/checksums.src")" -ge 7 ] || fail_setup "the zoo's checksums: $(cat "$work/checksums.src")"

# 1. The backup: three destinations in one run.
b=$work/backups
mkdir -p "$b"
"$COPY" --source "$SRC" --dest db --dest-dialect sqlite --dest-uri "$b/daily.sqlite" \
	--dest sql-dump --dest-file "$b/daily.sql" --dest json --dest-file "$b/daily.json" --create-tables \
	>"$work/out.backup" 2>"$work/log.backup"
check "backup to sqlite + sql-dump + json exits 0" [ $? -eq 0 ]
check "the summary line: tables, rows, destinations, snapshot, manifest" \
	grep -qE "^mosta-copy: ok: $(wc -l <<<"$TABLES") tables, [0-9]+ rows, 3 destinations, .* read in [0-9.]+ s \(snapshot [0-9A-F]+/[0-9A-F]+\), manifest $b/daily.manifest.json$" \
	"$work/log.backup"
check "not on a terminal: a plain progress line per table" contains "$work/log.backup" "mosta-copy: zoo.values: 4 rows, "
check "the password is shown nowhere (output, manifest)" \
	eval '! grep -rqF s3cr3t-pw "$work/log.backup" "$work/out.backup" "$b"'
check "the files are there under their final names, no temporary left" \
	eval '[ -s "$b/daily.sqlite" ] && [ -s "$b/daily.sql" ] && [ -s "$b/daily.json" ] && [ -z "$(find "$b" -name "*.mosta-tmp.*")" ]'
manifest_checksums "$b/daily.manifest.json" >"$work/checksums.manifest"
if diff -u "$work/checksums.src" "$work/checksums.manifest" >&2; then
	ok "the manifest's row counts and checksums equal mosta_checksum on the source"
else
	not_ok "the manifest's row counts and checksums equal mosta_checksum on the source"
fi
check "the manifest lists the three files with relative paths, sizes and CRC-32C" python3 -c 'import json, os, sys
m = json.load(open(sys.argv[1]))
assert m["format"] == "mostajs.copy.manifest" and m["version"] == 1, m["format"]
assert m["tool"].startswith("mosta-copy "), m["tool"]
assert m["snapshot"]["lsn"] and "***" in m["snapshot"]["source"], m["snapshot"]
assert [(f["kind"], f["path"]) for f in m["files"]] == [("sqlite", "daily.sqlite"), ("sql-dump", "daily.sql"),
    ("json", "daily.json")], m["files"]
for f in m["files"]:
    assert f["bytes"] == os.path.getsize(os.path.join(os.path.dirname(sys.argv[1]), f["path"])), f
    assert len(f["crc32c"]) == 8, f
assert m["schema"]["tables"], "no schema"' "$b/daily.manifest.json"

# --jobs 2 gives the same checksums.
mkdir -p "$work/j2"
"$COPY" --source "$SRC" --dest sqlite --dest-file "$work/j2/daily.sqlite" --dest json --dest-file "$work/j2/json/" \
	--jobs 2 --quiet 2>"$work/log.j2"
st=$?
# libmongoc's load-time init warns "Falling back to malloc for counters." when a killed process of the same pid
# left /dev/shm/mongoc-PID (the tests kill -9 many): the driver's line, before main, not mosta-copy's output.
check "--jobs 2 exits 0, --quiet prints the summary line only" \
	eval '[ $st -eq 0 ] && [ "$(grep -vc "mongoc: Falling back to malloc for counters" "$work/log.j2")" -eq 1 ] &&
		grep -q "^mosta-copy: ok: " "$work/log.j2"'
manifest_checksums "$work/j2/daily.manifest.json" >"$work/checksums.j2"
check "--jobs 2: the manifest's checksums equal the source's" diff -u "$work/checksums.src" "$work/checksums.j2"

# 2. verify.
"$COPY" verify "$b/daily.manifest.json" >"$work/out.verify" 2>"$work/log.verify"
check "verify of the backup exits 0" [ $? -eq 0 ]
check "verify checks each file's CRC-32C and each table of each file" \
	eval '[ "$(grep -c "^ok " "$work/out.verify")" -eq $((3 * ($(wc -l <<<"$TABLES") + 1))) ]'
"$COPY" verify "$b/daily.manifest.json" --against "$SRC" --jobs 2 >"$work/out.against" 2>"$work/log.against"
check "verify --against the live database exits 0" [ $? -eq 0 ]
check "verify --against masks the password" eval '! grep -qF s3cr3t-pw "$work/out.against" "$work/log.against"'

# A JSON directory (one file per table): each file in it is listed with its CRC-32C; a damaged one is named.
"$COPY" verify "$work/j2/daily.manifest.json" >"$work/out.j2verify" 2>&1
check "verify of the --jobs 2 backup (SQLite + a JSON directory) exits 0" [ $? -eq 0 ]
check "verify checks each file of the JSON directory" contains "$work/out.j2verify" "ok $work/j2/json/zoo.values.json: "
printf 'x' >>"$work/j2/json/zoo.values.json"
"$COPY" verify "$work/j2/daily.manifest.json" >"$work/out.j2bad" 2>&1
check "a damaged file in a JSON directory: exit 1" [ $? -eq 1 ]
check "a damaged file in a JSON directory is named" contains "$work/out.j2bad" "MISMATCH $work/j2/json/zoo.values.json: "

# 3. Restore each file into an empty database: the same checksums.
for kind in sqlite sql-dump json; do
	case $kind in sqlite) file=$b/daily.sqlite ;; sql-dump) file=$b/daily.sql ;; json) file=$b/daily.json ;; esac
	db=copy_cli_r_$kind
	createdb "$db" && sql -d "$db" -c "CREATE EXTENSION mostajs" >/dev/null
	if "$COPY" --source "$kind:$file" --dest postgres --dest-uri "dbname=$db" --create-tables --quiet \
		2>"$work/log.r_$kind"; then
		ok "restore from $kind exits 0"
	else
		not_ok "restore from $kind exits 0"
		cat "$work/log.r_$kind" >&2
	fi
	check "restore from $kind writes no manifest" eval '! grep -q manifest "$work/log.r_$kind"'
	zoo_checksums "$db" >"$work/checksums.r_$kind"
	check "restore from $kind: every table's checksum equals the source's" \
		diff -u "$work/checksums.src" "$work/checksums.r_$kind"
done

# 4. A corrupted file and a changed database.
cp "$b/daily.sql" "$work/daily.sql.orig"
python3 -c 'import sys
p = sys.argv[1]; data = bytearray(open(p, "rb").read()); data[len(data) // 2] ^= 0x01; open(p, "wb").write(data)' \
	"$b/daily.sql"
"$COPY" verify "$b/daily.manifest.json" >"$work/out.corrupt" 2>"$work/log.corrupt"
check "verify of a corrupted file exits 1" [ $? -eq 1 ]
check "verify names the corrupted file" contains "$work/out.corrupt" "MISMATCH $b/daily.sql: "
check "verify still passes the intact files" contains "$work/out.corrupt" "ok $b/daily.sqlite: "
cp "$work/daily.sql.orig" "$b/daily.sql"
sql -d "$SOURCE" -c "UPDATE zoo.customers SET name = name || '!' WHERE id = (SELECT min(id) FROM zoo.customers)"
"$COPY" verify "$b/daily.manifest.json" --against "$SRC" >"$work/out.changed" 2>"$work/log.changed"
check "verify --against a changed database exits 1" [ $? -eq 1 ]
check "the changed table differs since the backup" \
	contains "$work/out.changed" "zoo.customers: differs since the backup: checksum "
check "the other tables still agree" contains "$work/out.changed" "zoo.values: 4 rows"
zoo_checksums "$SOURCE" >"$work/checksums.src" # the source as it is now

# 5. The seed's --commandFile, paths adapted, with the ORM's entities.json.
mkdir -p "$work/app/.mostajs/generated" "$work/app/backups"
cat >"$work/app/.mostajs/generated/entities.json" <<'EOF'
[
  {"name": "Customer", "collection": "customers", "schema": "zoo", "fields": {"id": {"type": "number"}}},
  {"name": "Ticket", "collection": "tickets"}
]
EOF
cat >"$work/app/backup-daily.conf" <<EOF
# backup-daily.conf: the seed's nightly backup
--source db --source-dialect postgres --source-uri "$SRC"
--dest db        --dest-dialect sqlite --dest-uri "./backups/daily.sqlite"
--dest sql-dump  --dest-file "./backups/daily.sql"
--dest json      --dest-file "./backups/daily.json"
--schemas .mostajs/generated/entities.json --create-tables --batch-size 1000
EOF
(cd "$work/app" && "$COPY" --commandFile backup-daily.conf) >"$work/out.conf" 2>"$work/log.conf"
check "the seed's --commandFile exits 0" [ $? -eq 0 ]
check "the seed's --commandFile copies the entities' tables only" \
	eval '[ "$(manifest_checksums "$work/app/backups/daily.manifest.json" | cut -d" " -f1 | tr "\n" " ")" = "app.tickets zoo.customers " ]'
check "the seed's --commandFile: checksums equal the source's" \
	eval 'manifest_checksums "$work/app/backups/daily.manifest.json" | diff - <(grep -E "^(app.tickets|zoo.customers) " "$work/checksums.src")'
echo '[{"collection": "customers", "schema": "zoo"}, {"collection": "no_such_table"}]' \
	>"$work/app/.mostajs/generated/entities.json"
(cd "$work/app" && "$COPY" --commandFile backup-daily.conf) >/dev/null 2>"$work/log.conf_bad"
check "an entity naming no table: exit 2" [ $? -eq 2 ]
check "an entity naming no table: the message names it" \
	contains "$work/log.conf_bad" "mosta-copy: FAILED: --schemas .mostajs/generated/entities.json: the source has no table \"no_such_table\""

# 6. Exit codes and messages.
"$COPY" --source "$SRC" --dest sqlite --dest-file "$work/x.sqlite" --batch-size none 2>"$work/log.usage"
st=$?
check "a bad option value: exit 2 naming the option" eval '[ $st -eq 2 ] && contains "$work/log.usage" "--batch-size"'
"$COPY" --source "$SRC" --dest sqlite --dest-file "$work/x.sqlite" --tables 'nosuch.*' 2>"$work/log.glob"
st=$?
check "a --tables glob matching nothing: exit 2" \
	eval '[ $st -eq 2 ] && contains "$work/log.glob" "--tables nosuch.* matches no table"'
"$COPY" --source "postgresql://u:s3cr3t-pw@127.0.0.1:1/nodb?connect_timeout=5" --dest sqlite \
	--dest-file "$work/x.sqlite" 2>"$work/log.down"
st=$?
check "an unreachable source: exit 1 with a FAILED line" \
	eval '[ $st -eq 1 ] && grep -q "^mosta-copy: FAILED: " "$work/log.down" && ! grep -qF s3cr3t-pw "$work/log.down"'
check "a failed run leaves no file" eval '[ ! -e "$work/x.sqlite" ] && [ -z "$(find "$work" -maxdepth 1 -name "x.*")" ]'
"$COPY" --help >"$work/help" 2>&1
check "--help documents the exit codes" contains "$work/help" "Exit status: 0 success, 1 failure (or verify found a difference), 2 bad usage."

# 7. kill -9 and SIGTERM mid-copy, held at the gate (see the top).
# gate_database: copy_cli_gate afresh, with the event trigger that waits for the advisory lock.
gate_database() {
	dropdb --if-exists --force copy_cli_gate 2>/dev/null && createdb copy_cli_gate &&
		sql -d copy_cli_gate -c "CREATE FUNCTION gate() RETURNS event_trigger LANGUAGE plpgsql AS
		\$\$BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); END\$\$;
		CREATE EVENT TRIGGER gate ON ddl_command_start EXECUTE FUNCTION gate()" >/dev/null
}
gate_held() {
	[ "$(sql -d copy_cli_gate -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]
}
hold_gate() {
	PGAPPNAME=copy_cli_gate psql -X -q -d copy_cli_gate -c "SELECT pg_advisory_lock(4242)" \
		-c "SELECT pg_sleep(600)" >/dev/null 2>&1 & # holds the lock until release_gate ends it (--allow-sleep)
	gate_pid=$!
	poll_until 30 gate_held || fail_setup "could not take the advisory lock"
}
release_gate() {
	[ -n "$gate_pid" ] || return 0
	psql -X -q -d postgres -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'copy_cli_gate'" >/dev/null 2>&1
	wait "$gate_pid" 2>/dev/null
	gate_pid=
}
# waiting_at_gate DIR: the copy waits on the advisory lock and its temporaries exist in DIR.
waiting_at_gate() {
	[ "$(sql -d copy_cli_gate -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'
		AND application_name <> 'copy_cli_gate'")" -ge 1 ] && [ -n "$(find "$1" -name '*.mosta-tmp.*')" ]
}
# four_destinations DIR: sets dests to the file destinations in DIR first, the gated database last.
four_destinations() {
	dests=(--dest sqlite --dest-file "$1/daily.sqlite" --dest sql-dump --dest-file "$1/daily.sql"
		--dest json --dest-file "$1/daily.json" --dest postgres --dest-uri dbname=copy_cli_gate --create-tables)
}
# finals DIR: the names in DIR that are not temporaries.
finals() { find "$1" -mindepth 1 ! -name '*.mosta-tmp.*'; }
temporaries() { find "$1" -mindepth 1 -name '*.mosta-tmp.*'; }

mkdir -p "$work/k" "$work/t"
gate_database || fail_setup "the gate database"
hold_gate
four_destinations "$work/k"
"$COPY" --source "$SRC" "${dests[@]}" 2>"$work/log.kill9" &
copy_pid=$!
if poll_until 60 waiting_at_gate "$work/k"; then
	ok "mid-copy: the file destinations' temporaries exist, the copy waits at the gate"
else
	not_ok "mid-copy: the file destinations' temporaries exist, the copy waits at the gate"
	cat "$work/log.kill9" >&2
fi
kill -9 "$copy_pid"
wait "$copy_pid" 2>/dev/null
copy_pid=
release_gate
check "kill -9 mid-copy: nothing under the final names" eval '[ -z "$(finals "$work/k")" ]'
check "kill -9 mid-copy: only temporaries are left" eval '[ -n "$(temporaries "$work/k")" ]'

dropdb --force copy_cli_gate && createdb copy_cli_gate
"$COPY" --source "$SRC" "${dests[@]}" --quiet 2>"$work/log.after"
check "the next run succeeds" [ $? -eq 0 ]
check "the next run removed the temporaries the killed run left" eval '[ -z "$(temporaries "$work/k")" ]'
check "the next run's manifest lists the three files" python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))
kinds = [f["kind"] for f in m["files"]]
assert kinds[:3] == ["sqlite", "sql-dump", "json"], kinds' "$work/k/daily.manifest.json"

gate_database || fail_setup "the gate database"
hold_gate
four_destinations "$work/t"
"$COPY" --source "$SRC" "${dests[@]}" 2>"$work/log.sigterm" &
copy_pid=$!
if poll_until 60 waiting_at_gate "$work/t"; then
	kill -TERM "$copy_pid"
	release_gate
	wait "$copy_pid"
	st=$?
	copy_pid=
	check "SIGTERM mid-copy: exit 1" [ "$st" -eq 1 ]
	check "SIGTERM mid-copy: the reason is said" contains "$work/log.sigterm" "mosta-copy: FAILED: stopped by a signal"
	check "SIGTERM mid-copy: nothing under the final names" eval '[ -z "$(finals "$work/t")" ]'
	check "SIGTERM mid-copy: the temporaries removed" eval '[ -z "$(temporaries "$work/t")" ]'
	check "SIGTERM mid-copy: the restore's tables dropped" \
		eval '[ "$(sql -d copy_cli_gate -c "SELECT count(*) FROM pg_tables WHERE schemaname IN (\$\$zoo\$\$, \$\$app\$\$)")" = 0 ]'
else
	not_ok "SIGTERM mid-copy: the copy reached the gate"
	cat "$work/log.sigterm" >&2
fi

# 8. --keep 2: dated names, the two newest kept, other files untouched.
mkdir -p "$work/keep"
touch "$work/keep/daily.sqlite" "$work/keep/daily-old.sqlite" "$work/keep/other-20200101T000000Z.sqlite"
last_second=
next_second() { [ "$(date -u +%s)" != "$last_second" ]; }
for run in 1 2 3; do
	poll_until 5 next_second # dated names are to the second: one run per second
	last_second=$(date -u +%s)
	"$COPY" --source "$SRC" --dest sqlite --dest-file "$work/keep/daily.sqlite" --dest json \
		--dest-file "$work/keep/daily.json" --keep 2 --quiet 2>"$work/log.keep$run" ||
		{
			not_ok "--keep run $run"
			cat "$work/log.keep$run" >&2
		}
done
dated() { find "$work/keep" -maxdepth 1 -regextype posix-extended -regex ".*/daily-[0-9]{8}T[0-9]{6}Z$1" | wc -l; }
check "--keep 2: two dated SQLite files" [ "$(dated '\.sqlite')" -eq 2 ]
check "--keep 2: two dated JSON files" [ "$(dated '\.json')" -eq 2 ]
check "--keep 2: two dated manifests" [ "$(dated '\.manifest\.json')" -eq 2 ]
check "--keep 2: files not of the pattern untouched" \
	eval '[ -e "$work/keep/daily.sqlite" ] && [ -e "$work/keep/daily-old.sqlite" ] && [ -e "$work/keep/other-20200101T000000Z.sqlite" ]'
newest=$(find "$work/keep" -name 'daily-*.manifest.json' | sort | tail -1)
"$COPY" verify "$newest" >/dev/null 2>"$work/log.keep_verify"
check "--keep: the newest dated backup verifies" [ $? -eq 0 ]

# 9. A MongoDB copy: verify checks the collections against what was written (the MongoDB mapping does not keep a
# json column's value exactly: the manifest says which rows and columns), and catches a lost document.
require_test_mongod
require_pymongo
start_mongo_target copy_cli
mkdir -p "$work/mongo"
"$COPY" --source "$SRC" --dest sqlite --dest-file "$work/mongo/daily.sqlite" --dest mongodb --dest-uri "$mongo_uri" \
	--quiet 2>"$work/log.mongo"
check "backup to SQLite + MongoDB exits 0" [ $? -eq 0 ]
"$COPY" verify "$work/mongo/daily.manifest.json" >"$work/out.mongo" 2>&1
check "verify of the MongoDB copy exits 0" [ $? -eq 0 ]
check "verify says which rows the MongoDB mapping holds differently" \
	grep -qE "^ok .* zoo.values: 4 rows, checksum [0-9a-f]{64} \(as written: [0-9]+ rows differ from the source in " "$work/out.mongo"
check "the manifest's source checksums still equal the source's" \
	eval 'manifest_checksums "$work/mongo/daily.manifest.json" | diff - "$work/checksums.src"'
"$python" - "$mongo_uri" <<'PY'
import sys, pymongo
uri = sys.argv[1]
db = pymongo.MongoClient(uri).get_database(uri.rsplit("/", 1)[1])
name = [c for c in db.list_collection_names() if c.endswith("customers")][0]
db[name].delete_one({})
PY
"$COPY" verify "$work/mongo/daily.manifest.json" >"$work/out.mongo_lost" 2>&1
check "a document lost from the MongoDB copy: verify exits 1" [ $? -eq 1 ]
check "a document lost from the MongoDB copy: the table is named" \
	contains "$work/out.mongo_lost" "zoo.customers: 2 rows, the manifest has 3"

finish
