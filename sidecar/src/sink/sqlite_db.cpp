/*
 * sqlite_db.cpp
 *     SqliteError and the open/exec/prepare/bind/step helpers of sqlite_db.hpp.
 */
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar {

// SqliteError joins context, SQLite's message and the result code's name.
SqliteError::SqliteError(std::string_view context, sqlite3 *db, int rc)
	: std::runtime_error(std::string(context) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) +
						 " (" + sqlite3_errstr(rc) + ")"),
	  code_(db != nullptr ? sqlite3_extended_errcode(db) : rc) {}

// OpenSqlite opens read-write, creating the file, with extended result codes.
SqliteHandle
OpenSqlite(const std::string &path) {
	sqlite3 *raw = nullptr;
	int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
	SqliteHandle db(raw);
	if (rc != SQLITE_OK)
		throw SqliteError("cannot open SQLite database \"" + path + "\"", db.get(), rc);
	sqlite3_extended_result_codes(db.get(), 1);
	return db;
}

// ExecSql runs sql with sqlite3_exec.
void
ExecSql(sqlite3 *db, const std::string &sql) {
	int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
	if (rc != SQLITE_OK)
		throw SqliteError("SQLite failed to run " + sql, db, rc);
}

// PrepareSql compiles sql with the persistent-statement hint.
SqliteStmtHandle
PrepareSql(sqlite3 *db, std::string_view sql) {
	sqlite3_stmt *raw = nullptr;
	int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
	SqliteStmtHandle stmt(raw);
	if (rc != SQLITE_OK)
		throw SqliteError("SQLite failed to prepare " + std::string(sql), db, rc);
	return stmt;
}

// StepSql calls sqlite3_step once; on error resets the statement so that it can be used again.
bool
StepSql(sqlite3 *db, sqlite3_stmt *stmt) {
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		return true;
	if (rc == SQLITE_DONE)
		return false;
	SqliteError error(std::string("SQLite failed to run ") + sqlite3_sql(stmt), db, rc);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	throw error;
}

// RunSql steps until done, then resets and clears bindings.
void
RunSql(sqlite3 *db, sqlite3_stmt *stmt) {
	while (StepSql(db, stmt)) {
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

// BindText binds with SQLITE_STATIC: the caller keeps text alive until RunSql has reset the statement.
void
BindText(sqlite3 *db, sqlite3_stmt *stmt, int index, std::string_view text) {
	// A null pointer would bind SQL NULL, so an empty view without storage binds a static "".
	const char *data = text.data() != nullptr ? text.data() : "";
	int rc = sqlite3_bind_text64(stmt, index, data, text.size(), SQLITE_STATIC, SQLITE_UTF8);
	if (rc != SQLITE_OK)
		throw SqliteError("SQLite failed to bind a text parameter", db, rc);
}

// BindInt64 binds with sqlite3_bind_int64.
void
BindInt64(sqlite3 *db, sqlite3_stmt *stmt, int index, std::int64_t value) {
	int rc = sqlite3_bind_int64(stmt, index, value);
	if (rc != SQLITE_OK)
		throw SqliteError("SQLite failed to bind an integer parameter", db, rc);
}

// ColumnText copies the column's text.
std::string
ColumnText(sqlite3_stmt *stmt, int index) {
	const unsigned char *text = sqlite3_column_text(stmt, index);
	if (text == nullptr)
		return {};
	return std::string(reinterpret_cast<const char *>(text),
					   static_cast<std::size_t>(sqlite3_column_bytes(stmt, index)));
}

} // namespace mosta::sidecar
