/*
 * sqlite_backup_layout.hpp
 *     What a mosta-copy SQLite backup holds (docs/copy-stores.md, "SQLite"): one SQLite table per PostgreSQL table,
 *     exactly as the sidecar's SQLite sink makes it (sink/sqlite_table.hpp: named SqliteTableName(schema, table),
 *     "zoo.values"; the copied columns in table order, each declared SqliteDeclaredType of its declared type, so
 *     that a domain or an enum has no declared type, as in the sink; PRIMARY KEY (...) when the table has one; values
 *     stored as the sink stores them), so that mosta-sidecar's verify reads a backup as it reads a sidecar target,
 *     plus the table mosta_copy_schema (no dot in its name: no PostgreSQL table's SQLite name can be it) holding the
 *     schema document (model/schema.hpp), so the file restores and verifies alone.
 *
 *     One value differs from the sink: a real or double precision -0, which a REAL column cannot hold (SQLite
 *     stores an integral REAL as the integer 0), is stored as the BLOB '-0', which verify's reader
 *     (TargetCanonicalText) reads back as the text -0.
 */
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "model/schema.hpp"

namespace mosta::copy {

// kSqliteSchemaTable is the table holding the schema document: (version INTEGER, document TEXT), one row.
inline constexpr const char *kSqliteSchemaTable = "mosta_copy_schema";

// kSqliteNoColumns is the one column of the SQLite table of a table without copied columns (SQLite has no table
// without columns): NULL in every row, so that the rows are counted.
inline constexpr const char *kSqliteNoColumns = "_mosta_no_columns";

// SqliteBackupCreateSql returns the CREATE TABLE of table's SQLite table.
std::string SqliteBackupCreateSql(const TableDef &table);

// SqliteBackupInsertSql returns INSERT INTO <table> VALUES (?1, ...) for its copied columns.
std::string SqliteBackupInsertSql(const TableDef &table);

// SqliteBackupSelectSql returns the SELECT of table's copied columns, in CopiedColumns order ("SELECT NULL" per row
// for a table without copied columns).
std::string SqliteBackupSelectSql(const TableDef &table);

} // namespace mosta::copy
