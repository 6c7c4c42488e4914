/*
 * sqlite_apply_sql.hpp
 *     Internal to the SQLite sink: the pieces its row operations build SQL from (sqlite_apply.cpp defines them;
 *     sqlite_conflict.cpp, the bidirectional side's checked operations, uses them too).
 */
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sink/sqlite_table.hpp"

namespace mosta::sidecar::sqlite_sql {

// A separator that no identifier contains (QuoteIdentifier rejects NUL), for statement cache keys.
inline constexpr char kKeySeparator = '\0';

// Columns of a change's row images, by address (a where clause binds them without copying their values).
using ColumnRefs = std::vector<const Column *>;

// FindColumn returns the column called name in row, or null.
const Column *FindColumn(const std::vector<Column> &row, std::string_view name);

// KindOf returns how column name of table is bound.
ColumnKind KindOf(const SqliteTable &table, std::string_view name);

// ColumnList returns "a", "b", ... for the columns of row.
std::string ColumnList(const std::vector<Column> &row);

// Conditions returns "a = ?n AND b = ?n+1 ..." (op "=" or "IS") for columns, numbering from first_index.
std::string Conditions(const ColumnRefs &columns, int first_index, std::string_view op);

// Assignments returns "a = ?1, b = ?2 ..." for the columns of row.
std::string Assignments(const std::vector<Column> &row);

// CacheKey writes into key (whose storage is reused from change to change) an operation tag, the table and the
// column names of row and extra: the statement cache key.
const std::string &CacheKey(std::string &key, std::string_view tag, const SqliteTable &table,
							const std::vector<Column> &row, const ColumnRefs &extra = {});

// Refs returns the addresses of row's columns.
ColumnRefs Refs(const std::vector<Column> &row);

// ThrowMissingOld reports a change that needs "old" but has none.
[[noreturn]] void ThrowMissingOld(const Change &change);

// WithUnchangedFromOld returns new_row plus the "unchanged" columns whose value "old" carries (REPLICA IDENTITY FULL).
std::vector<Column> WithUnchangedFromOld(const Change &change);

// KeyValues returns, for each key column of table, its value in "old" if there, else in "new"; sets moved when an
// old value differs from the new one.
ColumnRefs KeyValues(const SqliteTable &table, const Change &change, bool &moved);

// OneRowMatching returns "<rowid> IN (SELECT <rowid> FROM t WHERE a IS ?n ... LIMIT 1)" for a keyless table.
std::string OneRowMatching(const SqliteTable &table, const ColumnRefs &columns, int first_index);

} // namespace mosta::sidecar::sqlite_sql
