/*
 * sqlite_sink.cpp
 *     SqliteSink: opening and checkpoint handling, transaction grouping, and the SQL of each row operation (see
 *     sqlite_sink.hpp for the semantics and sqlite_table.hpp for names and types).
 */
#include "sink/sqlite_sink.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

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
	"WHERE excluded.end_lsn > _mosta_checkpoint.end_lsn";

} // namespace

// SqliteSink opens the database and reads the checkpoint.
SqliteSink::SqliteSink(SqliteSinkOptions options) : options_(std::move(options)), name_("sqlite:" + options_.path) {
	if (options_.path.empty())
		throw std::invalid_argument("SQLite sink: the database path is empty");
	if (options_.slot.empty())
		throw std::invalid_argument("SQLite sink: the slot name (checkpoint key) is empty");
	if (options_.group_max_transactions == 0)
		throw std::invalid_argument("SQLite sink: group_max_transactions must be at least 1");
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
		durable_lsn_ = static_cast<Lsn>(sqlite3_column_int64(load.get(), 0));
	pending_lsn_ = durable_lsn_;
	checkpoint_stmt_ = PrepareSql(db_.get(), kWriteCheckpointSql);
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

// DurableLsn returns the checkpoint as of the last COMMIT that returned.
Lsn
SqliteSink::DurableLsn() const noexcept {
	return durable_lsn_;
}

// BeginTransaction opens a SQLite transaction unless a group is already open.
void
SqliteSink::BeginTransaction(Lsn commit_lsn) {
	if (poisoned_ || source_open_)
		throw std::logic_error(poisoned_ ? "SQLite sink: BeginTransaction after a failed Apply, call Rollback()"
										 : "SQLite sink: BeginTransaction while a source transaction is open");
	if (!group_open_) {
		ExecSql(db_.get(), "BEGIN IMMEDIATE");
		group_open_ = true;
		group_transactions_ = 0;
		group_changes_ = 0;
		group_started_ = std::chrono::steady_clock::now();
	}
	source_open_ = true;
	source_commit_lsn_ = commit_lsn;
}

// Apply dispatches on op; a failure poisons the group.
void
SqliteSink::Apply(const Change &change) {
	if (poisoned_ || !source_open_)
		throw std::logic_error(poisoned_ ? "SQLite sink: Apply after a failed Apply, call Rollback()"
										 : "SQLite sink: Apply outside BeginTransaction/CommitTransaction");
	try {
		switch (change.op) {
		case Op::Insert:
			ApplyUpsert(Table(change), change.new_row);
			break;
		case Op::Update:
			ApplyUpdate(Table(change), change);
			break;
		case Op::Delete:
			ApplyDelete(Table(change), change);
			break;
		case Op::Truncate:
			ApplyTruncate(change);
			break;
		case Op::Message:
			ApplyDdl(change);
			break;
		default:
			throw std::invalid_argument("SQLite sink: Apply takes row changes, truncates and messages, not " +
										std::string(OpName(change.op)));
		}
	} catch (...) {
		poisoned_ = true;
		throw;
	}
	++group_changes_;
}

// CommitTransaction writes the checkpoint in the open SQLite transaction, then commits if the budget is spent.
void
SqliteSink::CommitTransaction(Lsn commit_lsn, Lsn end_lsn) {
	if (poisoned_ || !source_open_)
		throw std::logic_error(poisoned_ ? "SQLite sink: CommitTransaction after a failed Apply, call Rollback()"
										 : "SQLite sink: CommitTransaction without BeginTransaction");
	if (commit_lsn != source_commit_lsn_)
		throw std::logic_error("SQLite sink: CommitTransaction(" + FormatLsn(commit_lsn) +
							   ") does not match BeginTransaction(" + FormatLsn(source_commit_lsn_) + ")");
	if (end_lsn == kInvalidLsn)
		throw std::invalid_argument("SQLite sink: end LSN 0/0 (the slot must be read with include-lsn=on)");
	std::string end_text = FormatLsn(end_lsn);
	BindText(db_.get(), checkpoint_stmt_.get(), 1, options_.slot);
	BindText(db_.get(), checkpoint_stmt_.get(), 2, end_text);
	BindInt64(db_.get(), checkpoint_stmt_.get(), 3, static_cast<std::int64_t>(end_lsn));
	RunSql(db_.get(), checkpoint_stmt_.get());
	pending_lsn_ = std::max(pending_lsn_, end_lsn);
	source_open_ = false;
	++group_transactions_;
	if (group_transactions_ >= options_.group_max_transactions || group_changes_ >= options_.group_max_changes ||
		std::chrono::steady_clock::now() - group_started_ >= options_.group_max_delay)
		CommitGroup();
}

// Flush commits the open group, if any.
void
SqliteSink::Flush() {
	if (poisoned_ || source_open_)
		throw std::logic_error(poisoned_ ? "SQLite sink: Flush after a failed Apply, call Rollback()"
										 : "SQLite sink: Flush inside a source transaction");
	CommitGroup();
}

// Rollback rolls the SQLite transaction back and forgets cached tables and statements (DDL may be undone).
void
SqliteSink::Rollback() noexcept {
	if (db_ && !sqlite3_get_autocommit(db_.get()))
		sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
	statements_.clear();
	tables_.clear();
	last_table_ = nullptr;
	group_open_ = false;
	source_open_ = false;
	poisoned_ = false;
	pending_lsn_ = durable_lsn_;
}

// CommitGroup runs COMMIT; on failure rolls back and rethrows, leaving DurableLsn() as it was.
void
SqliteSink::CommitGroup() {
	if (!group_open_)
		return;
	try {
		ExecSql(db_.get(), "COMMIT");
	} catch (...) {
		Rollback();
		throw;
	}
	group_open_ = false;
	durable_lsn_ = std::max(durable_lsn_, pending_lsn_);
}

// Table finds the table (the last one used, else in the cache or the database), else creates it; then adds
// missing columns.
SqliteTable &
SqliteSink::Table(const Change &change) {
	if (last_table_ == nullptr || last_schema_ != change.Schema() || last_table_name_ != change.Table()) {
		last_table_ = nullptr;
		std::string name = SqliteTableName(change.Schema(), change.Table());
		auto found = tables_.find(name);
		if (found == tables_.end()) {
			std::optional<SqliteTable> loaded = LoadSqliteTable(db_.get(), name);
			SqliteTable table = loaded ? std::move(*loaded) : CreateSqliteTable(db_.get(), name, change);
			found = tables_.emplace(name, std::move(table)).first;
		}
		last_table_ = &found->second;
		last_schema_ = change.Schema();
		last_table_name_ = change.Table();
	}
	AddMissingColumns(db_.get(), *last_table_, change);
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
