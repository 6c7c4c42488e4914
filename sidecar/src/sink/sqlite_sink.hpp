/*
 * sqlite_sink.hpp
 *     SqliteSink: the embedded default target. One SQLite file (or ":memory:") holds the replicated tables (named
 *     and typed as sqlite_table.hpp says) and the checkpoint table
 *       _mosta_checkpoint(slot TEXT PRIMARY KEY, lsn TEXT, end_lsn INTEGER, updated_at TEXT)
 *     whose row for the slot holds DurableLsn(): lsn in pg_lsn text form ("0/1539980", what
 *     pg_replication_slot_advance takes), end_lsn the same position as a 64-bit integer, updated_at in UTC.
 *
 *     Durability: journal_mode=WAL and synchronous=FULL, so a COMMIT is on disk when it returns. Each source
 *     transaction runs inside one SQLite transaction together with its checkpoint row; several consecutive ones
 *     share it when grouping is on (SqliteSinkOptions), and DurableLsn() moves only once COMMIT has returned. A
 *     crash leaves both the data and the checkpoint of a transaction, or neither.
 *
 *     Applying: insert and update are upserts keyed by the table's primary key (INSERT ... ON CONFLICT DO UPDATE
 *     SET of the columns present, so "unchanged" TOAST columns keep their stored value); an update that changes the
 *     key moves the row (UPDATE OR REPLACE ... WHERE old key, keeping unchanged columns, or an upsert if the old
 *     row is gone); delete is by the key values in "old"; truncate is DELETE FROM each table (a partition truncated
 *     alone under partition-root cannot be applied to its root's table and throws). Replaying changes is therefore
 *     idempotent on keyed tables. A keyless table (no "key") gets no primary key: update and delete find one row
 *     equal to "old" (REPLICA IDENTITY FULL), and inserts are plain, so only the daemon's skipping of transactions
 *     at or below DurableLsn() keeps such tables free of duplicates. An update or delete that carries no "old" on
 *     a table that needs it throws, naming the table and the fix. Messages are accepted and not stored, except
 *     mostajs.ddl messages, which alter the tables (sqlite_ddl.cpp).
 *
 *     The transaction state machine (grouping, poisoning after an Apply that throws, Rollback) is SinkCore's
 *     (sink_core.hpp); the sink provides its hooks: BEGIN IMMEDIATE, the row operations, the checkpoint row, COMMIT
 *     and ROLLBACK.
 *
 *     Statements are prepared once per (table, operation, columns) and finalized when the sink closes.
 *
 *     Bidirectional sides (docs/bidirectional.md, sqlite_capture.hpp). With capture_guard (or on a file that already
 *     holds capture triggers, e.g. a promoted replica: its own writes must never be captured) the sink installs the
 *     capture triggers on its tables (again when it creates a table, adds columns, follows a DDL message or learns
 *     a column's type), sets _mosta_apply_guard.active = 1 at the start of each group and back to 0 before its
 *     COMMIT, so its own writes are never captured, and keeps _mosta_row_times: each row it writes gets the
 *     source transaction's commit time (NoteCommitTime), each row it deletes loses its entry. With on_conflict each
 *     row change of a keyed table is checked against the row the file holds, by value (bidir/conflict.hpp):
 *       insert  the key's row exists and differs from "new"                      insert_exists
 *       update  UPDATE ... WHERE every column of "old" IS its stored value: no row, then
 *               the old key's row is missing (and the new key's row is not "new") update_missing
 *               the old key's row differs from "new"                               update_differs
 *       delete  DELETE ... WHERE every column of "old" IS its stored value: no row, then
 *               the key's row exists                                               delete_differs
 *     A row already equal to the change's result, and a delete of a missing row, are not conflicts. The handler
 *     gets a ConflictRecord (row images in the documents' encoding, local_time from _mosta_row_times, the source
 *     commit time, the source transaction's commit LSN and the change's index in it) and decides: the incoming
 *     change is applied as an upsert (or delete by key), or the local row is kept, or the sink throws
 *     ConflictError. Keyless tables are applied as without on_conflict. Without these options the sink does no
 *     per-row work beyond what is described above.
 *
 *     Column types. With record_types (implied by capture_guard and on_conflict, and by a file that already holds
 *     _mosta_columns) the sink records each column's PostgreSQL type in _mosta_columns (sqlite_capture_sql.hpp),
 *     once per table and shape per session: what capture reads a row back with.
 */
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "bidir/conflict.hpp"
#include "sink/sink_core.hpp"
#include "sink/sqlite_capture_sql.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::sidecar {

// Settings of a SqliteSink.
struct SqliteSinkOptions {
	std::string path;								// database file, or ":memory:"
	std::string slot;								// the checkpoint row's key (the replication slot)
	std::size_t group_max_transactions = 1;			// 1: COMMIT at every CommitTransaction
	std::size_t group_max_changes = 10000;			// COMMIT once a group holds this many changes
	std::chrono::milliseconds group_max_delay{200}; // ... or is this old at a CommitTransaction
	std::chrono::milliseconds busy_timeout{5000};	// wait this long for readers' locks
	std::vector<std::string> ddl_collections{};		// a mostajs.ddl CREATE TABLE is applied to tables these cover
	bool capture_guard = false;		   // a bidirectional side: capture triggers, guard, row times (see above)
	ConflictHandler on_conflict{};	   // set: each row change of a keyed table is checked for conflicts
	Side incoming_side = Side::Source; // the side the changes this sink applies were written on
	bool record_types = false;		   // record column types in _mosta_columns (for a later capture)
};

// SqliteSink replicates into one SQLite database.
class SqliteSink final : public SinkCore {
  public:
	// SqliteSink opens or creates the database, sets WAL and synchronous=FULL, creates the checkpoint table and
	// loads DurableLsn(); throws SqliteError or std::invalid_argument.
	explicit SqliteSink(SqliteSinkOptions options);

	// ~SqliteSink rolls back what is not durable, finalizes the statements and closes the database.
	~SqliteSink() override;

	SqliteSink(const SqliteSink &) = delete;
	SqliteSink &operator=(const SqliteSink &) = delete;

	std::string_view Name() const noexcept override;

	// NoteCommitTime keeps the source transaction's commit time (row times, conflicts' incoming_time).
	void NoteCommitTime(std::string_view commit_time) override;

	// Handle returns the connection, for tests and read-only status queries.
	sqlite3 *
	Handle() const noexcept {
		return db_.get();
	}

  private:
	// The SinkCore hooks: a group is one SQLite transaction (BEGIN IMMEDIATE ... COMMIT) holding the data and the
	// checkpoint row; DiscardGroup rolls it back and forgets cached tables and statements (DDL may be undone).
	void OpenGroup() override;
	void OpenSource(Lsn commit_lsn) override;
	void ApplyChange(const Change &change) override;
	void InsertRow(const Change &change) override;
	void UpdateRow(const Change &change) override;
	void DeleteRow(const Change &change) override;
	void TruncateTables(const Change &change) override;
	void ApplyMessage(const Change &change) override;
	void RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) override;
	void MakeGroupDurable(Lsn pending_lsn) override;
	void DiscardGroup() noexcept override;

	// RefuseForeignDatabase throws unless the database is new, empty or holds _mosta_checkpoint.
	void RefuseForeignDatabase();

	// Table returns the metadata of change's table, creating the table or adding columns as needed.
	SqliteTable &Table(const Change &change);

	// CachedStatement returns the statement cached under key, or null when there is none yet.
	sqlite3_stmt *CachedStatement(const std::string &key) const;

	// AddStatement prepares sql and caches it under key (the caller found none there).
	sqlite3_stmt *AddStatement(const std::string &key, const std::string &sql);

	// Statement returns the statement cached under key; on a miss it calls build() for the SQL and prepares it, so
	// the SQL text is built once per key, not per change.
	template <typename BuildSql>
	sqlite3_stmt *
	Statement(const std::string &key, BuildSql &&build) {
		sqlite3_stmt *stmt = CachedStatement(key);
		return stmt != nullptr ? stmt : AddStatement(key, build());
	}

	// ApplyUpsert inserts or updates row by the primary key (plain INSERT on a keyless table).
	void ApplyUpsert(const SqliteTable &table, const std::vector<Column> &row);

	// ApplyUpdate applies an update (key moves and keyless tables included).
	void ApplyUpdate(const SqliteTable &table, const Change &change);

	// ApplyDelete deletes the row "old" identifies.
	void ApplyDelete(const SqliteTable &table, const Change &change);

	// ApplyTruncate empties each listed table that exists.
	void ApplyTruncate(const Change &change);

	// ApplyDdl follows a mostajs.ddl message (sqlite_ddl.cpp); other messages are ignored.
	void ApplyDdl(const Change &change);

	// FillColumn sets column to value in every row of table (a column just added with a "fill").
	void FillColumn(const SqliteTable &table, const std::string &column, const Value &value);

	// Bidirectional sides (sqlite_conflict.cpp).

	// What a probe found at a key.
	struct Probe {
		bool exists = false;
		bool equal = false;		// the row equals the compared image
		std::string local_json; // the row, in the documents' encoding
		std::string local_time; // its row time ("" when none)
	};

	// SetUpCapture creates the capture tables, installs the triggers on every replicated table and prepares the
	// guard's statements (capture_guard), or creates _mosta_columns (record_types).
	void SetUpCapture();

	// ShapeChanged records change's column types for table name (created: the table is new) and reinstalls its
	// triggers when capture is on and something changed.
	void ShapeChanged(const std::string &name, const Change &change, bool created, bool added);

	// Recapture installs the triggers of table name again (capture_guard) and forgets its cached shape and the
	// cached statements (called from Table before any statement is fetched).
	void Recapture(const std::string &name);

	// Shape returns table's capture shape (columns and recorded types), cached until it changes.
	const CaptureShape &Shape(const SqliteTable &table);

	// NoteRowTime sets the row time of the row whose key row carries to the source commit time (nothing when the
	// time is unknown or a key column is missing); ForgetRowTime deletes it.
	void NoteRowTime(const SqliteTable &table, const std::vector<Column> &row);
	void ForgetRowTime(const SqliteTable &table, const std::vector<Column> &row);

	// ProbeRow reads the row at the key key_row carries (whether it exists, equals compare, its JSON and time).
	Probe ProbeRow(const SqliteTable &table, const std::vector<Column> &key_row, const std::vector<Column> *compare);

	// Resolve asks the handler about a conflict: true to apply the incoming change, false to keep the local row;
	// throws ConflictError for Resolution::Fail.
	bool Resolve(ConflictKind kind, const SqliteTable &table, const Change &change, const Probe &probe,
				 const std::vector<Column> &key_row, const std::vector<Column> &incoming);

	// The checked row operations (on_conflict, keyed tables).
	void InsertChecked(const SqliteTable &table, const Change &change);
	void UpdateChecked(const SqliteTable &table, const Change &change);
	void DeleteChecked(const SqliteTable &table, const Change &change);

	// DeleteByKey deletes the row at the key key_row carries.
	void DeleteByKey(const SqliteTable &table, const std::vector<Column> &key_row);

	SqliteSinkOptions options_;
	std::string name_;
	SqliteHandle db_; // declared before the statements: destroyed after them
	SqliteStmtHandle checkpoint_stmt_;
	std::unordered_map<std::string, SqliteStmtHandle> statements_;
	std::unordered_map<std::string, SqliteTable> tables_;
	std::string key_buffer_; // the statement cache key of the current change, reused to spare an allocation

	// The table of the last row change and its source names, so that a run of changes to one table looks it up
	// once. Points into tables_; reset wherever an entry of tables_ may be erased (Rollback, ApplyDdl).
	SqliteTable *last_table_ = nullptr;
	std::string last_schema_;
	std::string last_table_name_;

	// Bidirectional state.
	bool capture_ = false;		// options_.capture_guard, or the file holds capture triggers
	bool record_types_ = false; // keep _mosta_columns
	bool row_times_ = false;	// keep _mosta_row_times (capture_guard or on_conflict)
	std::string commit_time_;	// of the open source transaction ("" when not noted)
	int change_index_ = 0;		// of the change being applied, in its source transaction
	int next_change_index_ = 0;
	std::unordered_map<std::string, CaptureShape> shapes_;
	SqliteStmtHandle guard_on_;
	SqliteStmtHandle guard_off_;
};

} // namespace mosta::sidecar
