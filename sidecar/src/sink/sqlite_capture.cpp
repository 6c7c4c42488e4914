/*
 * sqlite_capture.cpp
 *     Change capture in a SQLite replica: the triggers, the change table and its reading and purging (see
 *     sqlite_capture.hpp; the SQL reading a row back as document values is sqlite_capture_sql.cpp's).
 */
#include "sink/sqlite_capture.hpp"

#include <map>

#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_capture_sql.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar {

namespace {

// The write's UTC time, to the millisecond.
constexpr std::string_view kNow = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

// Savepoint runs InstallCapture's statements as one unit, inside the caller's transaction or as its own.
class Savepoint {
  public:
	explicit Savepoint(sqlite3 *db) : db_(db) {
		ExecSql(db_, "SAVEPOINT mosta_capture");
	}
	~Savepoint() {
		if (!released_) {
			sqlite3_exec(db_, "ROLLBACK TO mosta_capture", nullptr, nullptr, nullptr);
			sqlite3_exec(db_, "RELEASE mosta_capture", nullptr, nullptr, nullptr);
		}
	}
	Savepoint(const Savepoint &) = delete;
	Savepoint &operator=(const Savepoint &) = delete;

	// Release keeps the work.
	void
	Release() {
		ExecSql(db_, "RELEASE mosta_capture");
		released_ = true;
	}

  private:
	sqlite3 *db_;
	bool released_ = false;
};

// KeyText returns the key text expression of the row qualified by qualifier ("NEW." or "OLD.").
std::string
KeyText(const CaptureShape &shape, std::string_view qualifier) {
	std::vector<std::string> exprs;
	for (const std::string &column : shape.primary_key)
		exprs.push_back(std::string(qualifier) + QuoteIdentifier(column));
	return KeyTextSql(shape, exprs);
}

// ChangeDocument returns the SQL expression of op's change document (op "insert", "update" or "delete").
std::string
ChangeDocument(const CaptureShape &shape, std::string_view op) {
	ConcatSql document;
	std::string head = "{\"op\":\"" + std::string(op) + "\",\"schema\":" + JsonQuote(shape.schema) +
					   ",\"table\":" + JsonQuote(shape.table);
	if (!shape.primary_key.empty()) {
		head += ",\"key\":[";
		for (std::size_t i = 0; i < shape.primary_key.size(); ++i)
			head += (i == 0 ? "" : ",") + JsonQuote(shape.primary_key[i]);
		head += "]";
	}
	document.Text(head);
	if (op != "delete") {
		document.Text(",\"new\":");
		AppendRowJson(document, shape, "NEW.");
	}
	if (op != "insert") {
		document.Text(",\"old\":");
		AppendRowJson(document, shape, "OLD.");
	}
	document.Text(",\"types\":" + TypesJson(shape) + "}");
	return document.Sql();
}

// TriggerSql returns the CREATE TRIGGER of op ("insert", "update" or "delete") on shape's table.
std::string
TriggerSql(const CaptureShape &shape, std::string_view op) {
	std::string table = QuoteLiteral(shape.name);
	std::string sql =
		"CREATE TRIGGER " + QuoteIdentifier(std::string(kCaptureTriggerPrefix) + std::string(op) + ":" + shape.name) +
		" AFTER " +
		(op == "insert"	  ? "INSERT"
		 : op == "update" ? "UPDATE"
						  : "DELETE") +
		" ON " + QuoteIdentifier(shape.name) + " WHEN (SELECT active FROM _mosta_apply_guard) = 0 BEGIN\n";
	sql += "INSERT INTO _mosta_changes (document, at) VALUES (" + ChangeDocument(shape, op) + ", " + std::string(kNow) +
		   ");\n";
	if (!shape.primary_key.empty()) {
		if (op != "delete")
			sql += "INSERT INTO _mosta_row_times (tbl, key, at) VALUES (" + table + ", " + KeyText(shape, "NEW.") +
				   ", " + std::string(kNow) + ") ON CONFLICT (tbl, key) DO UPDATE SET at = excluded.at;\n";
		if (op != "insert") {
			// An update forgets the old key only when the key moved (a condition SQLite tests once, before the
			// lookup).
			std::string moved;
			for (const std::string &column : shape.primary_key)
				moved += (moved.empty() ? "" : " OR ") + std::string("OLD.") + QuoteIdentifier(column) +
						 " IS NOT NEW." + QuoteIdentifier(column);
			sql += "DELETE FROM _mosta_row_times WHERE " + (op == "update" ? "(" + moved + ") AND " : std::string()) +
				   "tbl = " + table + " AND key = " + KeyText(shape, "OLD.") + ";\n";
		}
	}
	return sql + "END";
}

// InstalledTriggers returns table name's capture triggers: name -> SQL.
std::map<std::string, std::string>
InstalledTriggers(sqlite3 *db, const std::string &name) {
	SqliteStmtHandle list = PrepareSql(db, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND "
										   "tbl_name = ?1 AND substr(name, 1, ?3) = ?2");
	BindText(db, list.get(), 1, name);
	BindText(db, list.get(), 2, kCaptureTriggerPrefix);
	BindInt64(db, list.get(), 3, static_cast<std::int64_t>(kCaptureTriggerPrefix.size()));
	std::map<std::string, std::string> triggers;
	while (StepSql(db, list.get()))
		triggers.emplace(ColumnText(list.get(), 0), ColumnText(list.get(), 1));
	return triggers;
}

// InstallTable creates table name's three triggers, unless they exist as they would be created.
void
InstallTable(sqlite3 *db, const std::string &name) {
	std::optional<CaptureShape> shape = LoadCaptureShape(db, name);
	if (!shape)
		throw SqliteError("cannot capture changes of SQLite table " + QuoteIdentifier(name) + ": no such table",
						  nullptr, SQLITE_ERROR);
	std::map<std::string, std::string> wanted;
	for (std::string_view op : {"insert", "update", "delete"})
		wanted.emplace(std::string(kCaptureTriggerPrefix) + std::string(op) + ":" + name, TriggerSql(*shape, op));
	if (InstalledTriggers(db, name) == wanted)
		return;
	DropCaptureTriggers(db, name);
	for (const auto &[trigger, sql] : wanted) {
		try {
			ExecSql(db, sql);
		} catch (const SqliteError &e) {
			throw SqliteError("cannot create the capture trigger " + QuoteIdentifier(trigger) + " of SQLite table " +
								  QuoteIdentifier(name),
							  db, e.Code());
		}
	}
}

// AnyRow tells whether sql returns a row; false when table does not exist.
bool
AnyRow(sqlite3 *db, std::string_view table, const std::string &sql) {
	if (!TableExists(db, table))
		return false;
	SqliteStmtHandle stmt = PrepareSql(db, sql);
	return StepSql(db, stmt.get());
}

} // namespace

void
InstallCapture(sqlite3 *db, const std::vector<std::string> &tables) {
	Savepoint savepoint(db);
	EnsureCaptureTables(db);
	for (const std::string &name : tables)
		InstallTable(db, name);
	savepoint.Release();
}

void
RemoveCapture(sqlite3 *db) {
	Savepoint savepoint(db);
	SqliteStmtHandle list = PrepareSql(db, "SELECT DISTINCT tbl_name FROM sqlite_schema WHERE type = 'trigger' AND "
										   "substr(name, 1, ?2) = ?1");
	BindText(db, list.get(), 1, kCaptureTriggerPrefix);
	BindInt64(db, list.get(), 2, static_cast<std::int64_t>(kCaptureTriggerPrefix.size()));
	std::vector<std::string> tables;
	while (StepSql(db, list.get()))
		tables.push_back(ColumnText(list.get(), 0));
	list.reset();
	for (const std::string &table : tables)
		DropCaptureTriggers(db, table);
	savepoint.Release();
}

bool
CaptureInstalled(sqlite3 *db) {
	SqliteStmtHandle stmt =
		PrepareSql(db, "SELECT 1 FROM sqlite_schema WHERE type = 'trigger' AND substr(name, 1, ?2) = ?1");
	BindText(db, stmt.get(), 1, kCaptureTriggerPrefix);
	BindInt64(db, stmt.get(), 2, static_cast<std::int64_t>(kCaptureTriggerPrefix.size()));
	return StepSql(db, stmt.get());
}

std::vector<CapturedChange>
ReadCaptured(sqlite3 *db, std::int64_t after, std::size_t limit) {
	std::vector<CapturedChange> changes;
	if (limit == 0 || !TableExists(db, "_mosta_changes"))
		return changes;
	SqliteStmtHandle stmt =
		PrepareSql(db, "SELECT seq, document, at FROM _mosta_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2");
	BindInt64(db, stmt.get(), 1, after);
	BindInt64(db, stmt.get(), 2, static_cast<std::int64_t>(limit));
	while (StepSql(db, stmt.get()))
		changes.push_back(
			CapturedChange{sqlite3_column_int64(stmt.get(), 0), ColumnText(stmt.get(), 1), ColumnText(stmt.get(), 2)});
	return changes;
}

bool
SqliteTargetIsPromoted(sqlite3 *db) {
	return AnyRow(db, "_mosta_promotion", "SELECT 1 FROM _mosta_promotion LIMIT 1");
}

std::int64_t
PurgeCaptured(sqlite3 *db, std::int64_t upto) {
	if (!TableExists(db, "_mosta_changes"))
		return 0;
	SqliteStmtHandle stmt = PrepareSql(db, "DELETE FROM _mosta_changes WHERE seq <= ?1");
	BindInt64(db, stmt.get(), 1, upto);
	RunSql(db, stmt.get());
	return sqlite3_changes64(db);
}

} // namespace mosta::sidecar
