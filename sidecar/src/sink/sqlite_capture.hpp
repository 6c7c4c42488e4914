/*
 * sqlite_capture.hpp
 *     Change capture in a SQLite replica (docs/bidirectional.md, "Capture on SQLite"): the SQLite side of a
 *     bidirectional rule, and a SQLite replica promoted to write target while the PostgreSQL master is away.
 *
 *     Triggers. For each replicated table of the file, AFTER INSERT, UPDATE and DELETE triggers append one row to
 *     _mosta_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, document TEXT, at TEXT) in the writer's own
 *     transaction, whatever connection writes: the change is committed with the data or not at all, and seq
 *     orders changes in commit order (SQLite has one writer at a time). Each document is a change document of the
 *     mostajs plugin, format version 2 with types (docs/protocol.md): {"op":"update","schema":..,"table":..,
 *     "types":{..},"key":[..],"new":{..},"old":{..}} with full old images, values mapped back from the sink's
 *     storage (sink/sqlite_table.hpp) to the documents' encoding, so the reverse direction reads it with the
 *     sidecar's own decoder and applies it with the same sinks. at is the write's time (UTC, ms), the commit time
 *     last-write-wins compares. The triggers are SQL generated per table from its shape: its columns and key
 *     (pragma_table_info) and the PostgreSQL type of each column, which SQLite's affinities cannot tell (a boolean
 *     from an integer, an array or a json value from a text), so the sink records them in _mosta_columns
 *     (sink/sqlite_capture_sql.hpp says how each stored value is read back). Triggers are named
 *     "_mosta_capture_<op>:<table>"; InstallCapture replaces them only when the SQL it would create differs.
 *
 *     Loop prevention. The sidecar's own writes are not captured: its SqliteSink sets _mosta_apply_guard.active = 1
 *     at the start of each of its transactions and back to 0 before COMMIT, and the triggers skip while it is 1.
 *     No other connection can see the 1 (SQLite has one writer at a time and readers see committed data only).
 *
 *     Row times. _mosta_row_times (tbl, key, at) holds, for each captured or applied row, the commit time of its
 *     last write (the triggers write the local time, the sink the source's commit time): the local time
 *     last-write-wins compares when a change from PostgreSQL conflicts with the row.
 *
 *     Position. The reverse direction applies changes in seq order into PostgreSQL with the replication origin's
 *     position set to the LSN 0/seq (SeqLsn), in the same transaction as the data: PostgreSQL holds how far it got.
 *     Purge deletes what PostgreSQL holds durably.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/lsn.hpp"

struct sqlite3;

namespace mosta::sidecar {

// One captured change.
struct CapturedChange {
	std::int64_t seq = 0;
	std::string document; // a change document, format version 2 with types
	std::string at;		  // when it was written ("2026-12-07T10:00:00.123Z")
};

// SeqLsn is the position of captured change seq as an LSN (0/seq): what the reverse origin records.
inline Lsn
SeqLsn(std::int64_t seq) noexcept {
	return static_cast<Lsn>(seq);
}

// InstallCapture creates (or replaces, when a table's shape changed) the capture triggers, _mosta_changes,
// _mosta_apply_guard, _mosta_row_times and _mosta_columns for tables ("schema.table" as the SQLite sink names them)
// in db; one transaction (a savepoint: it may run inside the caller's); throws SqliteError naming the table.
void InstallCapture(sqlite3 *db, const std::vector<std::string> &tables);

// RemoveCapture drops the triggers (the tables stay, with what they hold).
void RemoveCapture(sqlite3 *db);

// CaptureInstalled tells whether db has capture triggers.
bool CaptureInstalled(sqlite3 *db);

// ReadCaptured returns up to limit changes with seq > after, in seq order (none when db has no _mosta_changes).
std::vector<CapturedChange> ReadCaptured(sqlite3 *db, std::int64_t after, std::size_t limit);

// SqliteTargetIsPromoted tells whether db holds a row in _mosta_promotion (a SQLite replica promoted to write
// target while its PostgreSQL master is away: docs/failover.md); false when the table does not exist.
bool SqliteTargetIsPromoted(sqlite3 *db);

// PurgeCaptured deletes the changes with seq <= upto; returns how many (0 when db has no _mosta_changes).
std::int64_t PurgeCaptured(sqlite3 *db, std::int64_t upto);

} // namespace mosta::sidecar
