/*
 * sqlite_capture_sql.hpp
 *     The SQL that turns a row of a SQLite replica back into the change documents' values (docs/protocol.md
 *     section 8), shared by the capture triggers (sqlite_capture.cpp) and the SQLite sink's conflict checks and
 *     row times (sqlite_conflict.cpp), so that both read a row the same way.
 *
 *     Column types. SQLite keeps only an affinity per column (sqlite_table.hpp), which cannot tell a boolean from
 *     an integer, an array from a text or a json value from a string. The sink therefore records each column's
 *     PostgreSQL type, as the documents declare it, in
 *       _mosta_columns(tbl TEXT, col TEXT, type TEXT, PRIMARY KEY (tbl, col))
 *     whenever it may be asked to capture (a bidirectional side, SqliteSinkOptions::record_types, or a file that
 *     already holds the table). A column with no recorded type is read by its SQLite declared type: INTEGER as
 *     bigint, REAL as double precision, TEXT as text, BLOB as bytea, none as text.
 *
 *     Values, from how the sink stores them (BindSqliteValue) back to the documents' JSON:
 *       NULL                       null
 *       boolean (INTEGER 0/1)      true / false
 *       integers                   the number
 *       real, double precision     the shortest of 15, 16 or 17 significant digits that reads back to the stored
 *                                  double (PostgreSQL's shortest form for nearly every value; the same double in
 *                                  any case); NaN and infinities, stored as TEXT, stay strings; -0 reads as 0
 *                                  (SQLite stores an integral REAL as an integer)
 *       bytea (BLOB)               "\\x" and lower-case hex
 *       arrays (TEXT of JSON)      the JSON array (json() of the stored text)
 *       json, jsonb, numeric, timestamps and every other type stored as TEXT
 *                                  the stored text as a JSON string
 *     A value of another storage class than the column's (written by another connection) is read by its class.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mosta/common/pg_types.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::sidecar {

// kColumnTypesTable is the sink's record of each column's PostgreSQL type.
inline constexpr const char *kColumnTypesTable = "_mosta_columns";

// kCaptureTriggerPrefix starts the capture triggers' names: "_mosta_capture_<op>:<table>".
inline constexpr std::string_view kCaptureTriggerPrefix = "_mosta_capture_";

// One column of a replicated SQLite table, for reading its values back.
struct CaptureColumn {
	std::string name;
	std::string type; // the PostgreSQL type (recorded, else derived from the declared type)
	PgColumnType classified{nullptr};
	bool recorded = false; // type comes from _mosta_columns
};

// A replicated SQLite table's shape: its names, columns (table order) and primary key.
struct CaptureShape {
	std::string name; // the SQLite name ("public.t")
	std::string schema;
	std::string table;
	std::vector<CaptureColumn> columns;
	std::vector<std::string> primary_key;
};

// LoadCaptureShape reads table name's columns (pragma_table_info) and their recorded types; nullopt when there is
// no such table; throws std::runtime_error when the name is not one of a replicated table ("schema.table").
std::optional<CaptureShape> LoadCaptureShape(sqlite3 *db, const std::string &name);

// ConcatSql builds a SQL text expression as literal pieces and expressions joined by ||, as a balanced tree: a
// left-deep chain of a wide table's columns would pass SQLite's expression depth limit (1000).
class ConcatSql {
  public:
	// Text appends literal text.
	void
	Text(std::string_view text) {
		pending_ += text;
	}
	// Expr appends a SQL expression yielding text.
	void Expr(const std::string &sql);
	// Sql returns the expression.
	std::string Sql();

  private:
	// Join returns parts_[first, last) joined, as a balanced tree of ||.
	std::string Join(std::size_t first, std::size_t last) const;

	std::vector<std::string> parts_; // SQL of literals and parenthesized expressions
	std::string pending_;
};

// ValueJsonSql returns a SQL expression giving the JSON text of expr, a value of column (see the file comment).
std::string ValueJsonSql(const CaptureColumn &column, std::string_view expr);

// AppendRowJson appends the JSON object of every column of shape, read as qualifier + quoted column name
// (qualifier "NEW.", "OLD." or "").
void AppendRowJson(ConcatSql &out, const CaptureShape &shape, std::string_view qualifier);

// KeyTextSql returns a SQL expression giving the row times' key text of a row: the JSON array of its key values,
// the i-th read from exprs[i] (one per column of shape.primary_key).
std::string KeyTextSql(const CaptureShape &shape, const std::vector<std::string> &exprs);

// TypesJson returns the document's "types" object of shape.
std::string TypesJson(const CaptureShape &shape);

// TableExists tells whether db has a table called name.
bool TableExists(sqlite3 *db, std::string_view name);

// EnsureColumnTypesTable creates _mosta_columns when missing.
void EnsureColumnTypesTable(sqlite3 *db);

// EnsureCaptureTables creates _mosta_changes, _mosta_apply_guard (with its one row, 0), _mosta_row_times and
// _mosta_columns when missing.
void EnsureCaptureTables(sqlite3 *db);

// RecordColumnTypes records the type of each typed column of change in _mosta_columns (which must exist) for
// table name, and with prune forgets the columns the table no longer has; true when anything changed.
bool RecordColumnTypes(sqlite3 *db, const std::string &name, const Change &change, bool prune = false);

// ForgetTable deletes table name's recorded types and row times (the table was dropped).
void ForgetTable(sqlite3 *db, const std::string &name);

// DropCaptureTriggers drops table name's capture triggers (before a column it reads is dropped or renamed).
void DropCaptureTriggers(sqlite3 *db, const std::string &name);

// ReplicatedTables returns the names of db's replicated tables (every "schema.table"), sorted.
std::vector<std::string> ReplicatedTables(sqlite3 *db);

// AppendValueJson appends value in the documents' encoding (floats in their shortest round-trip form).
void AppendValueJson(std::string &out, const Value &value);

} // namespace mosta::sidecar
