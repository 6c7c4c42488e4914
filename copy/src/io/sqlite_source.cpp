/*
 * sqlite_source.cpp
 *     The SQLite source (Form Canonical): a SQLite file mosta-copy wrote (sqlite_backup_layout.hpp), opened
 *     read-only. The schema comes from its mosta_copy_schema table; each value is turned back into its canonical
 *     text by mosta-sidecar verify's own reader (app/verify_read.hpp TargetCanonicalText, led by the column's base
 *     type): 0/1 of a boolean → false/true, a REAL → PostgreSQL's float8 (float4) text, a BLOB of a bytea → \x hex,
 *     TEXT as it is. Each reader has its own read-only connection, so that --jobs readers run at once.
 */
#include <filesystem>
#include <optional>

#include "app/verify_read.hpp"
#include "io/open.hpp"
#include "io/sqlite_backup_layout.hpp"
#include "sink/sqlite_db.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::copy {

namespace {

// OpenReadOnly opens path read-only (no mutex: a connection is used by one thread).
sidecar::SqliteHandle
OpenReadOnly(const std::string &path) {
	sqlite3 *raw = nullptr;
	int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
	sidecar::SqliteHandle db(raw);
	if (rc != SQLITE_OK)
		throw CopyError("cannot open SQLite backup " + path + ": " +
						(db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
	sqlite3_extended_result_codes(db.get(), 1);
	return db;
}

class SqliteTableReader : public TableReader {
  public:
	SqliteTableReader(const std::string &path, const TableDef &table) : path_(path), table_(table.QualifiedName()) {
		for (std::size_t index : table.CopiedColumns())
			forms_.push_back(sidecar::CanonicalFormOfType(
				table.columns[index].base_type.empty() ? table.columns[index].type : table.columns[index].base_type));
		db_ = OpenReadOnly(path);
		try {
			select_ = sidecar::PrepareSql(db_.get(), SqliteBackupSelectSql(table));
		} catch (const sidecar::SqliteError &error) {
			throw CopyError("SQLite backup " + path_ + " has no readable table for " + table_ + ": " + error.what());
		}
	}

	bool
	Next(RowBatch &batch, std::size_t max_rows) override {
		batch.Clear();
		try {
			while (batch.Rows() < max_rows && !done_) {
				if (!sidecar::StepSql(db_.get(), select_.get())) {
					done_ = true;
					break;
				}
				if (forms_.empty()) {
					batch.AddEmptyRow();
					continue;
				}
				for (std::size_t i = 0; i < forms_.size(); ++i) {
					std::optional<std::string> text =
						sidecar::TargetCanonicalText(select_.get(), static_cast<int>(i), forms_[i]);
					if (text)
						batch.AddField(*text);
					else
						batch.AddNull();
				}
			}
		} catch (const sidecar::SqliteError &error) {
			throw CopyError("reading " + table_ + " from SQLite backup " + path_ + ": " + error.what());
		}
		return batch.Rows() > 0;
	}

	ValueForm
	Form() const noexcept override {
		return ValueForm::Canonical;
	}

  private:
	std::string path_;
	std::string table_;
	std::vector<CanonicalForm> forms_;
	sidecar::SqliteHandle db_;
	sidecar::SqliteStmtHandle select_;
	bool done_ = false;
};

class SqliteSource : public Source {
  public:
	explicit SqliteSource(std::string path) : path_(std::move(path)) {}

	std::string
	Describe() const override {
		return "sqlite:" + path_;
	}

	void
	Open() override {
		if (!std::filesystem::is_regular_file(path_))
			throw CopyError("SQLite backup " + path_ + " does not exist or is not a file");
		sidecar::SqliteHandle db = OpenReadOnly(path_);
		sqlite3_stmt *raw = nullptr;
		std::string sql = std::string("SELECT version, document FROM ") + kSqliteSchemaTable;
		int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw, nullptr);
		sidecar::SqliteStmtHandle stmt(raw);
		if (rc != SQLITE_OK)
			throw CopyError(path_ + " is not a mosta-copy backup (no " + kSqliteSchemaTable +
							" table: " + sqlite3_errmsg(db.get()) +
							"); a SQLite file of mosta-sidecar is read by mosta-sidecar verify, not restored");
		try {
			if (!sidecar::StepSql(db.get(), stmt.get()))
				throw CopyError(path_ + " is not a mosta-copy backup: its " + std::string(kSqliteSchemaTable) +
								" table is empty");
			if (int version = sqlite3_column_int(stmt.get(), 0); version != kSchemaVersion)
				throw CopyError(path_ + " holds a schema document of version " + std::to_string(version) +
								"; this mosta-copy reads version " + std::to_string(kSchemaVersion));
			schema_ = SchemaFromJson(sidecar::ColumnText(stmt.get(), 1), &snapshot_);
		} catch (const sidecar::SqliteError &error) {
			throw CopyError("reading the schema of SQLite backup " + path_ + ": " + error.what());
		} catch (const SchemaError &error) {
			throw CopyError("SQLite backup " + path_ + ": its schema document cannot be read: " + error.what());
		}
	}

	const DatabaseSchema &
	Schema() const override {
		return schema_;
	}
	const SnapshotInfo &
	Snapshot() const override {
		return snapshot_;
	}

	std::unique_ptr<TableReader>
	OpenTable(const TableDef &table) override {
		return std::make_unique<SqliteTableReader>(path_, table);
	}

	void
	Close() noexcept override {}

  private:
	std::string path_;
	DatabaseSchema schema_;
	SnapshotInfo snapshot_;
};

} // namespace

std::unique_ptr<Source>
MakeSqliteSource(const std::string &path) {
	return std::make_unique<SqliteSource>(path);
}

} // namespace mosta::copy
