/*
 * sqlite_sink.cpp
 *     SqliteSink: opening and checkpoint handling, and the SinkCore hooks (BEGIN, the row operations, the checkpoint
 *     row, COMMIT, ROLLBACK); see sqlite_sink.hpp for the semantics and sqlite_table.hpp for names and types.
 */
#include "sink/sqlite_sink.hpp"

#include <stdexcept>
#include <utility>

#include "sink/sqlite_apply_sql.hpp"

namespace mosta::sidecar {

namespace {

// The checkpoint table, created when missing.
constexpr const char *kCreateCheckpointSql = "CREATE TABLE IF NOT EXISTS _mosta_checkpoint "
											 "(slot TEXT PRIMARY KEY, lsn TEXT, end_lsn INTEGER, updated_at TEXT)";

// Writes the slot's checkpoint; it never moves backwards (a replayed transaction leaves it as it is).
constexpr const char *kWriteCheckpointSql =
	"INSERT INTO _mosta_checkpoint (slot, lsn, end_lsn, updated_at) "
	"VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
	"ON CONFLICT (slot) DO UPDATE SET lsn = excluded.lsn, end_lsn = excluded.end_lsn, updated_at = excluded.updated_at "
	"WHERE excluded.end_lsn > _mosta_checkpoint.end_lsn OR ?4 = 1"; // ?4: rewinding (Sink::Rewind)

} // namespace

// SqliteSink opens the database and reads the checkpoint.
SqliteSink::SqliteSink(SqliteSinkOptions options)
	: SinkCore("SQLite sink",
			   GroupPolicy{options.group_max_transactions, options.group_max_changes, options.group_max_delay}),
	  options_(std::move(options)), name_("sqlite:" + options_.path) {
	if (options_.path.empty())
		throw std::invalid_argument("SQLite sink: the database path is empty");
	if (options_.slot.empty())
		throw std::invalid_argument("SQLite sink: the slot name (checkpoint key) is empty");
	db_ = OpenSqlite(options_.path);
	sqlite3_busy_timeout(db_.get(), static_cast<int>(options_.busy_timeout.count()));
	RefuseForeignDatabase();

	SqliteStmtHandle journal = PrepareSql(db_.get(), "PRAGMA journal_mode = WAL");
	std::string mode = StepSql(db_.get(), journal.get()) ? ColumnText(journal.get(), 0) : std::string();
	journal.reset();
	const char *file = sqlite3_db_filename(db_.get(), "main");
	if (file != nullptr && file[0] != '\0' && mode != "wal")
		throw std::runtime_error("SQLite sink: cannot put " + options_.path + " in WAL mode (journal_mode is " + mode +
								 ")");
	ExecSql(db_.get(), "PRAGMA synchronous = FULL");
	ExecSql(db_.get(), kCreateCheckpointSql);

	SqliteStmtHandle load = PrepareSql(db_.get(), "SELECT end_lsn FROM _mosta_checkpoint WHERE slot = ?1");
	BindText(db_.get(), load.get(), 1, options_.slot);
	if (StepSql(db_.get(), load.get()))
		RestoreDurableLsn(static_cast<Lsn>(sqlite3_column_int64(load.get(), 0)));
	checkpoint_stmt_ = PrepareSql(db_.get(), kWriteCheckpointSql);
	SetUpCapture();
}

// RefuseForeignDatabase throws unless the database is empty or holds _mosta_checkpoint: a file the sidecar did
// not create is never written to (not even the WAL mode switch, which rewrites the header).
void
SqliteSink::RefuseForeignDatabase() {
	SqliteStmtHandle schema;
	try {
		schema = PrepareSql(db_.get(), "SELECT count(*), count(*) FILTER (WHERE name = '_mosta_checkpoint') "
									   "FROM sqlite_schema WHERE type = 'table'");
		if (!StepSql(db_.get(), schema.get()) || sqlite3_column_int64(schema.get(), 0) == 0 ||
			sqlite3_column_int64(schema.get(), 1) == 1)
			return;
	} catch (const SqliteError &e) {
		if ((e.Code() & 0xff) != SQLITE_NOTADB)
			throw;
		throw std::runtime_error("SQLite sink: " + options_.path + " exists and is not a SQLite database (" + e.what() +
								 "): refusing to write to a file the sidecar did not create");
	}
	throw std::runtime_error("SQLite sink: " + options_.path +
							 " holds tables but no _mosta_checkpoint: refusing to write to a database the sidecar did "
							 "not create");
}

// ~SqliteSink discards the open group; members then finalize statements before closing the database.
SqliteSink::~SqliteSink() {
	Rollback();
}

// Name returns "sqlite:<path>".
std::string_view
SqliteSink::Name() const noexcept {
	return name_;
}

// OpenGroup starts the SQLite transaction of a group; a capturing sink raises the guard first thing in it.
void
SqliteSink::OpenGroup() {
	ExecSql(db_.get(), "BEGIN IMMEDIATE");
	if (capture_)
		RunSql(db_.get(), guard_on_.get());
}

// OpenSource starts counting the source transaction's changes; its commit time is noted next, if known.
void
SqliteSink::OpenSource(Lsn commit_lsn) {
	static_cast<void>(commit_lsn);
	commit_time_.clear();
	next_change_index_ = 0;
}

// NoteCommitTime keeps the commit time of the open source transaction.
void
SqliteSink::NoteCommitTime(std::string_view commit_time) {
	commit_time_.assign(commit_time);
}

// ApplyChange numbers the change in its source transaction, then dispatches it.
void
SqliteSink::ApplyChange(const Change &change) {
	change_index_ = next_change_index_++;
	SinkCore::ApplyChange(change);
}

// InsertRow upserts the new row (checked for conflicts on a bidirectional side); notes its row time.
void
SqliteSink::InsertRow(const Change &change) {
	SqliteTable &table = Table(change);
	if (options_.on_conflict && !table.primary_key.empty()) {
		InsertChecked(table, change);
		return;
	}
	ApplyUpsert(table, change.new_row);
	if (row_times_)
		NoteRowTime(table, change.new_row);
}

// UpdateRow applies an update (checked on a bidirectional side); moves and notes the row time.
void
SqliteSink::UpdateRow(const Change &change) {
	SqliteTable &table = Table(change);
	if (options_.on_conflict && !table.primary_key.empty()) {
		UpdateChecked(table, change);
		return;
	}
	if (!row_times_) {
		ApplyUpdate(table, change);
		return;
	}
	bool moved = false;
	if (change.has_old && !table.primary_key.empty())
		sqlite_sql::KeyValues(table, change, moved);
	if (moved)
		ForgetRowTime(table, change.old_row);
	ApplyUpdate(table, change);
	NoteRowTime(table, change.new_row);
}

// DeleteRow deletes the row "old" identifies (checked on a bidirectional side) and its row time.
void
SqliteSink::DeleteRow(const Change &change) {
	SqliteTable &table = Table(change);
	if (options_.on_conflict && !table.primary_key.empty()) {
		DeleteChecked(table, change);
		return;
	}
	if (row_times_ && change.has_old)
		ForgetRowTime(table, change.old_row);
	ApplyDelete(table, change);
}

// TruncateTables empties the listed tables.
void
SqliteSink::TruncateTables(const Change &change) {
	ApplyTruncate(change);
}

// ApplyMessage follows a mostajs.ddl message.
void
SqliteSink::ApplyMessage(const Change &change) {
	ApplyDdl(change);
}

// RecordCheckpoint writes the checkpoint row in the open SQLite transaction.
void
SqliteSink::RecordCheckpoint(Lsn commit_lsn, Lsn end_lsn) {
	static_cast<void>(commit_lsn);
	std::string end_text = FormatLsn(end_lsn);
	BindText(db_.get(), checkpoint_stmt_.get(), 1, options_.slot);
	BindText(db_.get(), checkpoint_stmt_.get(), 2, end_text);
	BindInt64(db_.get(), checkpoint_stmt_.get(), 3, static_cast<std::int64_t>(end_lsn));
	BindInt64(db_.get(), checkpoint_stmt_.get(), 4, Rewinding() ? 1 : 0);
	RunSql(db_.get(), checkpoint_stmt_.get());
}

// MakeGroupDurable lowers the guard and runs COMMIT (on failure SinkCore rolls back, leaving DurableLsn() as it was).
void
SqliteSink::MakeGroupDurable(Lsn pending_lsn) {
	static_cast<void>(pending_lsn);
	if (capture_)
		RunSql(db_.get(), guard_off_.get());
	ExecSql(db_.get(), "COMMIT");
}

// DiscardGroup rolls the SQLite transaction back and forgets cached tables and statements (DDL may be undone).
void
SqliteSink::DiscardGroup() noexcept {
	if (db_ && !sqlite3_get_autocommit(db_.get()))
		sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
	statements_.clear();
	tables_.clear();
	shapes_.clear();
	last_table_ = nullptr;
}

// Table finds the table (the last one used, else in the cache or the database), else creates it; then adds
// missing columns.
SqliteTable &
SqliteSink::Table(const Change &change) {
	if (last_table_ == nullptr || last_schema_ != change.Schema() || last_table_name_ != change.Table()) {
		last_table_ = nullptr;
		std::string name = SqliteTableName(change.Schema(), change.Table());
		auto found = tables_.find(name);
		bool created = false;
		if (found == tables_.end()) {
			std::optional<SqliteTable> loaded = LoadSqliteTable(db_.get(), name);
			created = !loaded;
			SqliteTable table = loaded ? std::move(*loaded) : CreateSqliteTable(db_.get(), name, change);
			found = tables_.emplace(name, std::move(table)).first;
		}
		last_table_ = &found->second;
		last_schema_ = change.Schema();
		last_table_name_ = change.Table();
		if (created && record_types_)
			ShapeChanged(last_table_->name, change, true, false);
	}
	ShapeCheck check = AddMissingColumns(db_.get(), *last_table_, change);
	if (check.checked && record_types_)
		ShapeChanged(last_table_->name, change, false, check.added);
	return *last_table_;
}

// CachedStatement looks key up.
sqlite3_stmt *
SqliteSink::CachedStatement(const std::string &key) const {
	auto found = statements_.find(key);
	return found == statements_.end() ? nullptr : found->second.get();
}

// AddStatement prepares sql under key.
sqlite3_stmt *
SqliteSink::AddStatement(const std::string &key, const std::string &sql) {
	return statements_.insert_or_assign(key, PrepareSql(db_.get(), sql)).first->second.get();
}

} // namespace mosta::sidecar
