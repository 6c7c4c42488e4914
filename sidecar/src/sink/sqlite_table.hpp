/*
 * sqlite_table.hpp
 *     How PostgreSQL tables live in the SQLite sink: their names, their column types, and the metadata the sink
 *     keeps per table (loaded from SQLite with pragma_table_info, so a reopened file needs no side catalog).
 *
 *     Table names. A PostgreSQL table schema.table becomes ONE SQLite table named "<schema>.<table>", always
 *     schema-qualified, public included: SELECT * FROM "public.orders". SQLite has no schemas inside one file, and
 *     a name that always carries its schema cannot collide across schemas (public.t vs other.t), with the sink's
 *     own "_mosta_checkpoint" (no dot), or with SQLite's reserved "sqlite_" prefix (unless a schema is named so).
 *     To stay unambiguous when names contain dots, the schema part escapes '\' as "\\" and '.' as "\.", and the
 *     name splits at its first unescaped dot, the convention of the plugin's table filters (protocol section 14):
 *     schema "a.b" + table "c" is "a\.b.c", schema "a" + table "b.c" is "a.b.c". Every name is quoted with
 *     mosta::QuoteIdentifier in SQL.
 *
 *     Column types, from the document's "types" (the daemon reads with include-types), by the one type table
 *     (mosta/common/pg_types.hpp, its SqliteAffinity):
 *       smallint, integer, bigint, oid              INTEGER
 *       real, double precision                      REAL (NaN and +-Infinity arrive as strings, stored as TEXT)
 *       numeric[(p,s)]                              TEXT: exact. A REAL is a binary double (about 15 digits, no
 *                                                   scale) and a NUMERIC column would turn "12.500" into 12.5
 *       boolean                                     INTEGER 0/1
 *       bytea                                       BLOB (the protocol's "\x..." hex decoded to bytes)
 *       json, jsonb, any array (type ending "[]")   TEXT holding the JSON text as sent
 *       other built-in types (text, varchar, char, uuid, date, time, timestamp[tz], interval, inet, money, ...)
 *                                                   TEXT
 *       schema-qualified types (enums, domains, composites, extension types: "public.mood")
 *                                                   no declared type: SQLite keeps each value as sent (a domain
 *                                                   over int stays an INTEGER, an enum a TEXT), since the base
 *                                                   type is not in the document
 *     A column seen without a type (no "types") gets no declared type either. Columns are never retyped.
 */
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sqlite3.h>

#include "decode/change.hpp"

namespace mosta::sidecar {

// How the sink binds values of a column (from its declared SQLite type).
enum class ColumnKind {
	Integer,
	Real,
	Text,
	Blob, // a "\x..." string is decoded to bytes
	Untyped,
};

// One SQLite table of the sink.
struct SqliteTable {
	std::string name;									  // SQLite name, unquoted ("public.orders")
	std::string quoted;									  // the same, quoted for SQL
	std::vector<std::string> primary_key;				  // in key order; empty for a keyless table
	std::map<std::string, ColumnKind, std::less<>> kinds; // every column
	std::string rowid; // a name of the rowid not shadowed by a column ("" if none is free)

	// The column names (of "new", "old", "unchanged", then "types") of the last change in which AddMissingColumns
	// found every column present: the next change of the same shape, the usual case, skips the lookups.
	std::vector<std::string> checked_shape;
};

// SqliteTableName returns the SQLite name of schema.table: the schema with '\' and '.' escaped, a dot, the table.
std::string SqliteTableName(std::string_view schema, std::string_view table);

// SplitSqliteTableName splits a SQLite name at its first unescaped dot and unescapes the schema part (the inverse of
// SqliteTableName); nullopt when the name has no unescaped dot (the sink's own tables, "_mosta_checkpoint").
std::optional<TableName> SplitSqliteTableName(std::string_view name);

// SqliteDeclaredType maps a PostgreSQL type name (as format_type prints it) to the declared SQLite type ("" for
// none), per the table above (the type table's SqliteAffinity; any array: TEXT).
std::string SqliteDeclaredType(std::string_view pg_type);

// KindOfDeclaredType returns how values of a column with that declared type are bound.
ColumnKind KindOfDeclaredType(std::string_view declared);

// DecodeByteaHex decodes PostgreSQL's hex bytea text "\x0aff" into bytes; nullopt when malformed.
std::optional<std::string> DecodeByteaHex(std::string_view text);

// BindSqliteValue binds value at index as the sink stores it: NULL, a boolean as 0/1, an integer, a float, a
// string as TEXT (as a BLOB, hex-decoded, when kind is Blob: a bytea column's "\x..." text), raw JSON as its TEXT;
// column names the column in errors. Text is bound without a copy: it must outlive the statement's next reset.
void BindSqliteValue(sqlite3 *db, sqlite3_stmt *stmt, int index, const Value &value, ColumnKind kind,
					 std::string_view column);

// LoadSqliteTable reads an existing table's columns and primary key; nullopt when there is no such table.
std::optional<SqliteTable> LoadSqliteTable(sqlite3 *db, const std::string &name);

// CreateSqliteTable creates the table for change's table (columns of "new"/"old"/"unchanged"/"types"/"key",
// PRIMARY KEY from "key") and returns its metadata.
SqliteTable CreateSqliteTable(sqlite3 *db, const std::string &name, const Change &change);

// What AddMissingColumns did.
struct ShapeCheck {
	bool checked = false; // change's shape was new to table (not the last one checked): its columns were looked up
	bool added = false;	  // columns were added
};

// AddMissingColumns runs ALTER TABLE ADD COLUMN for each column change carries that table lacks.
ShapeCheck AddMissingColumns(sqlite3 *db, SqliteTable &table, const Change &change);

} // namespace mosta::sidecar
