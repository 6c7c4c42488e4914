/*
 * sqlite_destination.cpp
 *     The SQLite destination (Form Canonical): a new SQLite file laid out as sqlite_backup_layout.hpp says, written
 *     under its StagedPath temporary and published by Commit.
 *
 *     Speed: the temporary is written with journal_mode=OFF and synchronous=OFF (nothing reads it before Commit,
 *     a failed run removes it, and Publish fsyncs it before the rename), in one transaction from Begin to Finish,
 *     one prepared INSERT per table bound per row. SQLite has one writer: with --jobs N the writers of N tables
 *     share one connection, each batch converted to Values outside the lock and bound and inserted under it.
 *     Memory: SQLite's page cache is bounded (kCacheKibibytes; dirty pages spill to the file), batches are
 *     streamed.
 */
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>

#include "io/open.hpp"
#include "io/sqlite_backup_layout.hpp"
#include "io/sqlite_backup_value.hpp"
#include "io/staged_path.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::copy {

namespace {

// kCacheKibibytes bounds SQLite's page cache while writing (PRAGMA cache_size takes -KiB); kPageSize is the
// file's page size. Measured on 1,000,000 rows of bench/e2e.sh's table: 16 KiB pages write about 15 % faster than
// the default 4 KiB, and a cache above 32 MiB gains nothing.
constexpr int kCacheKibibytes = 32 * 1024;
constexpr int kPageSize = 16 * 1024;

// The text a REAL column gets for -0, as a BLOB (see sqlite_backup_layout.hpp).
constexpr std::string_view kNegativeZero = "-0";

// One column as the writer binds it.
struct BoundColumn {
	const ColumnDef *def;
	ValueShape shape;
	sidecar::ColumnKind kind; // of its declared SQLite type
};

class SqliteDestination;

class SqliteTableWriter : public TableWriter {
  public:
	SqliteTableWriter(SqliteDestination &destination, const TableDef &table);
	~SqliteTableWriter() override;
	void Write(const RowBatch &batch) override;
	void Close(std::uint64_t rows_written) override;

  private:
	SqliteDestination &destination_;
	TableDef table_;
	std::vector<BoundColumn> columns_;
	std::vector<sidecar::Value> values_; // one batch's values, row after row
	sidecar::SqliteStmtHandle insert_;
	std::uint64_t rows_ = 0;
};

class SqliteDestination : public Destination {
  public:
	SqliteDestination(std::string path, const DestinationOptions &options) : path_(std::move(path)), options_(options) {
		if (path_.empty())
			throw CopyError("a SQLite destination needs a file path (--dest-uri FILE)");
	}
	~SqliteDestination() override {
		Abort();
	}

	std::string
	Describe() const override {
		return "sqlite:" + path_;
	}
	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}

	void
	Begin(const DatabaseSchema &schema, const SnapshotInfo &snapshot) override {
		if (std::filesystem::is_directory(path_))
			throw CopyError("SQLite destination " + path_ + " is a directory: name a file");
		RemoveStaleTemporaries(path_);
		staged_ = std::make_unique<StagedPath>(path_);
		std::error_code ignored;
		std::filesystem::remove(staged_->Temporary(), ignored); // a file of this pid's name can only be stale
		try {
			db_ = sidecar::OpenSqlite(staged_->Temporary());
			sidecar::ExecSql(db_.get(), "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
										"PRAGMA locking_mode = EXCLUSIVE; PRAGMA temp_store = MEMORY; "
										"PRAGMA page_size = " +
											std::to_string(kPageSize) +
											"; "
											"PRAGMA cache_size = -" +
											std::to_string(kCacheKibibytes));
			sidecar::ExecSql(db_.get(), "BEGIN");
			sidecar::ExecSql(db_.get(), std::string("CREATE TABLE ") + kSqliteSchemaTable +
											" (version INTEGER NOT NULL, document TEXT NOT NULL)");
			sidecar::SqliteStmtHandle insert = sidecar::PrepareSql(
				db_.get(), std::string("INSERT INTO ") + kSqliteSchemaTable + " (version, document) VALUES (?1, ?2)");
			std::string document = SchemaToJson(schema, snapshot);
			sidecar::BindInt64(db_.get(), insert.get(), 1, kSchemaVersion);
			sidecar::BindText(db_.get(), insert.get(), 2, document);
			sidecar::RunSql(db_.get(), insert.get());
			for (const TableDef &table : schema.tables)
				sidecar::ExecSql(db_.get(), SqliteBackupCreateSql(table));
		} catch (const sidecar::SqliteError &error) {
			throw CopyError("SQLite destination " + path_ + ": " + error.what());
		}
	}

	std::unique_ptr<TableWriter>
	OpenTable(const TableDef &table) override {
		if (!db_)
			throw CopyError("SQLite destination " + path_ + ": OpenTable before Begin");
		return std::make_unique<SqliteTableWriter>(*this, table);
	}

	void
	Finish() override {
		std::lock_guard<std::mutex> lock(mutex_);
		if (!db_)
			throw CopyError("SQLite destination " + path_ + ": Finish without Begin, or after Abort");
		try {
			sidecar::ExecSql(db_.get(), "COMMIT");
		} catch (const sidecar::SqliteError &error) {
			throw CopyError("SQLite destination " + path_ + ": " + error.what());
		}
		int rc = sqlite3_close(db_.get());
		if (rc != SQLITE_OK)
			throw CopyError("SQLite destination " + path_ + ": cannot close " + staged_->Temporary() + ": " +
							sqlite3_errstr(rc));
		(void)db_.release(); // closed
	}

	void
	Commit() override {
		staged_->Publish();
		WrittenFile file;
		file.kind = "sqlite";
		file.path = path_;
		file.crc32c = FileCrc32c(path_, &file.bytes);
		files_ = {file};
	}

	void
	Abort() noexcept override {
		std::lock_guard<std::mutex> lock(mutex_);
		db_.reset();
		if (staged_)
			staged_->Discard();
	}

	std::vector<WrittenFile>
	Files() const override {
		return files_;
	}

	// The one connection and the lock every writer takes around it.
	sqlite3 *
	Db() const noexcept {
		return db_.get();
	}
	std::mutex &
	Mutex() noexcept {
		return mutex_;
	}
	const std::string &
	Path() const noexcept {
		return path_;
	}

  private:
	std::string path_;
	DestinationOptions options_;
	std::unique_ptr<StagedPath> staged_;
	sidecar::SqliteHandle db_;
	std::mutex mutex_;
	std::vector<WrittenFile> files_;
};

SqliteTableWriter::SqliteTableWriter(SqliteDestination &destination, const TableDef &table)
	: destination_(destination), table_(table) {
	for (std::size_t index : table_.CopiedColumns()) {
		const ColumnDef &column = table_.columns[index];
		columns_.push_back(
			{&column, ShapeOfColumn(column), sidecar::KindOfDeclaredType(sidecar::SqliteDeclaredType(column.type))});
	}
	std::lock_guard<std::mutex> lock(destination_.Mutex());
	try {
		insert_ = sidecar::PrepareSql(destination_.Db(), SqliteBackupInsertSql(table_));
	} catch (const sidecar::SqliteError &error) {
		throw CopyError("SQLite destination " + destination_.Path() + ", table " + table_.QualifiedName() + ": " +
						error.what());
	}
}

SqliteTableWriter::~SqliteTableWriter() {
	// the statement is finalized under the lock: other writers use the connection
	std::lock_guard<std::mutex> lock(destination_.Mutex());
	insert_.reset();
}

void
SqliteTableWriter::Write(const RowBatch &batch) {
	if (batch.Form() != ValueForm::Canonical || batch.Columns() != columns_.size())
		throw CopyError("SQLite destination: a batch of " + table_.QualifiedName() +
						" is not in canonical form with one field per copied column");
	const std::size_t rows = batch.Rows();
	values_.clear();
	values_.reserve(rows * columns_.size());
	for (std::size_t row = 0; row < rows; ++row)
		for (std::size_t i = 0; i < columns_.size(); ++i) {
			std::optional<std::string_view> field = batch.Field(row, i);
			values_.push_back(field ? CanonicalToValue(columns_[i].shape, *field, *columns_[i].def) : sidecar::Value{});
		}
	std::lock_guard<std::mutex> lock(destination_.Mutex());
	sqlite3 *db = destination_.Db();
	if (db == nullptr) // another table failed and the copy aborted: the file is gone
		throw CopyError("SQLite destination " + destination_.Path() + ": aborted");
	sqlite3_stmt *stmt = insert_.get();
	try {
		const sidecar::Value *value = values_.data();
		for (std::size_t row = 0; row < rows; ++row) {
			for (std::size_t i = 0; i < columns_.size(); ++i, ++value) {
				int index = static_cast<int>(i + 1);
				if (IsNegativeZero(*value)) {
					if (int rc = sqlite3_bind_blob(stmt, index, kNegativeZero.data(),
												   static_cast<int>(kNegativeZero.size()), SQLITE_STATIC);
						rc != SQLITE_OK)
						throw sidecar::SqliteError("SQLite failed to bind -0", db, rc);
					continue;
				}
				sidecar::BindSqliteValue(db, stmt, index, *value, columns_[i].kind, columns_[i].def->name);
			}
			// every parameter is bound again for each row: no sqlite3_clear_bindings
			if (int rc = sqlite3_step(stmt); rc != SQLITE_DONE) {
				sidecar::SqliteError error("SQLite failed to insert a row", db, rc);
				sqlite3_reset(stmt);
				throw error;
			}
			sqlite3_reset(stmt);
		}
	} catch (const std::exception &error) {
		throw CopyError("SQLite destination " + destination_.Path() + ", table " + table_.QualifiedName() + ": " +
						error.what());
	}
	rows_ += rows;
}

void
SqliteTableWriter::Close(std::uint64_t rows_written) {
	if (rows_written != rows_)
		throw CopyError("SQLite destination " + destination_.Path() + ", table " + table_.QualifiedName() + ": " +
						std::to_string(rows_) + " rows inserted, but the copy counted " + std::to_string(rows_written));
	std::lock_guard<std::mutex> lock(destination_.Mutex());
	insert_.reset();
}

} // namespace

std::unique_ptr<Destination>
MakeSqliteDestination(const std::string &path, const DestinationOptions &options) {
	return std::make_unique<SqliteDestination>(path, options);
}

} // namespace mosta::copy
