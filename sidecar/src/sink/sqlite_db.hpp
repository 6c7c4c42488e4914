/*
 * sqlite_db.hpp
 *     SQLite plumbing for the SQLite sink: RAII handles (sqlite3 -> sqlite3_close_v2, sqlite3_stmt ->
 *     sqlite3_finalize), SqliteError, and small helpers that open a database, run SQL, prepare, bind and step,
 *     throwing SqliteError with SQLite's own message and the statement at fault.
 */
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace mosta::sidecar {

// SqliteDeleter closes a connection with sqlite3_close_v2 (which also finalizes lazily whatever is left).
struct SqliteDeleter {
	// operator() releases db (never null: unique_ptr skips null).
	void
	operator()(sqlite3 *db) const noexcept {
		sqlite3_close_v2(db);
	}
};

// SqliteStmtDeleter finalizes a prepared statement.
struct SqliteStmtDeleter {
	// operator() releases stmt.
	void
	operator()(sqlite3_stmt *stmt) const noexcept {
		sqlite3_finalize(stmt);
	}
};

// An owned connection.
using SqliteHandle = std::unique_ptr<sqlite3, SqliteDeleter>;

// An owned prepared statement.
using SqliteStmtHandle = std::unique_ptr<sqlite3_stmt, SqliteStmtDeleter>;

// SqliteError is a failed SQLite call; what() is "<context>: <sqlite message> (<result code name>)".
class SqliteError : public std::runtime_error {
  public:
	// SqliteError reads the message of db's last error (or of rc alone when db is null).
	SqliteError(std::string_view context, sqlite3 *db, int rc);

	// Code returns SQLite's extended result code.
	int
	Code() const noexcept {
		return code_;
	}

  private:
	int code_;
};

// OpenSqlite opens (creating it if needed) the database at path, ":memory:" included.
SqliteHandle OpenSqlite(const std::string &path);

// ExecSql runs one or more statements that return no rows needed by the caller.
void ExecSql(sqlite3 *db, const std::string &sql);

// PrepareSql compiles one statement, for repeated use.
SqliteStmtHandle PrepareSql(sqlite3 *db, std::string_view sql);

// StepSql runs stmt one step: true when a row is ready, false when done; throws SqliteError otherwise.
bool StepSql(sqlite3 *db, sqlite3_stmt *stmt);

// RunSql steps stmt to completion, then resets it and clears its bindings, ready for the next use.
void RunSql(sqlite3 *db, sqlite3_stmt *stmt);

// BindText binds text that stays alive until the statement is reset (no copy).
void BindText(sqlite3 *db, sqlite3_stmt *stmt, int index, std::string_view text);

// BindInt64 binds an integer.
void BindInt64(sqlite3 *db, sqlite3_stmt *stmt, int index, std::int64_t value);

// ColumnText returns column index of the current row as text ("" for NULL).
std::string ColumnText(sqlite3_stmt *stmt, int index);

} // namespace mosta::sidecar
