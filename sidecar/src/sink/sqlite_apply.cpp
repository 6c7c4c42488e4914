/*
 * sqlite_apply.cpp
 *     The row operations of SqliteSink: the SQL of upsert, update (key moves, keyless tables), delete and truncate,
 *     and how Values are bound (see sqlite_sink.hpp for the semantics).
 */
#include <algorithm>
#include <stdexcept>
#include <string>

#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_apply_sql.hpp"
#include "sink/sqlite_sink.hpp"

namespace mosta::sidecar {

namespace sqlite_sql {

// FindColumn returns the column called name in row, or null.
const Column *
FindColumn(const std::vector<Column> &row, std::string_view name) {
	auto found = std::find_if(row.begin(), row.end(), [&](const Column &column) { return column.name == name; });
	return found == row.end() ? nullptr : &*found;
}

// KindOf returns how column name of table is bound.
ColumnKind
KindOf(const SqliteTable &table, std::string_view name) {
	auto found = table.kinds.find(name);
	return found == table.kinds.end() ? ColumnKind::Untyped : found->second;
}

// ColumnList returns "a", "b", ... for the columns of row.
std::string
ColumnList(const std::vector<Column> &row) {
	std::string list;
	for (const Column &column : row)
		list += (list.empty() ? "" : ", ") + QuoteIdentifier(column.name);
	return list;
}

// Conditions returns "a = ?n AND b = ?n+1 ..." (op "=" or "IS") for columns, numbering from first_index.
std::string
Conditions(const ColumnRefs &columns, int first_index, std::string_view op) {
	std::string sql;
	for (std::size_t i = 0; i < columns.size(); ++i)
		sql += (i == 0 ? "" : " AND ") + QuoteIdentifier(columns[i]->name) + " " + std::string(op) + " ?" +
			   std::to_string(first_index + static_cast<int>(i));
	return sql;
}

// Assignments returns "a = ?1, b = ?2 ..." for the columns of row.
std::string
Assignments(const std::vector<Column> &row) {
	std::string sql;
	for (std::size_t i = 0; i < row.size(); ++i)
		sql += (i == 0 ? "" : ", ") + QuoteIdentifier(row[i].name) + " = ?" + std::to_string(i + 1);
	return sql;
}

// CacheKey writes into key (whose storage is reused from change to change) an operation tag, the table and the
// column names of row and extra: the statement cache key.
const std::string &
CacheKey(std::string &key, std::string_view tag, const SqliteTable &table, const std::vector<Column> &row,
		 const ColumnRefs &extra) {
	key.assign(tag);
	key += kKeySeparator;
	key += table.name;
	for (const Column &column : row) {
		key += kKeySeparator;
		key += column.name;
	}
	key += kKeySeparator;
	for (const Column *column : extra) {
		key += kKeySeparator;
		key += column->name;
	}
	return key;
}

// Refs returns the addresses of row's columns.
ColumnRefs
Refs(const std::vector<Column> &row) {
	ColumnRefs refs;
	refs.reserve(row.size());
	for (const Column &column : row)
		refs.push_back(&column);
	return refs;
}

// ThrowMissingOld reports a change that needs "old" but has none.
[[noreturn]] void
ThrowMissingOld(const Change &change) {
	throw std::runtime_error("cannot apply " + std::string(OpName(change.op)) + " to " + change.Schema() + "." +
							 change.Table() +
							 ": the document has no \"old\" to find the row by (REPLICA IDENTITY "
							 "NOTHING, or DEFAULT without a primary key); give the table a primary key or REPLICA "
							 "IDENTITY FULL, or exclude it from replication");
}

// WithUnchangedFromOld returns new_row plus the "unchanged" columns whose value "old" carries (REPLICA IDENTITY FULL).
std::vector<Column>
WithUnchangedFromOld(const Change &change) {
	std::vector<Column> row = change.new_row;
	for (std::string_view name : change.unchanged)
		if (const Column *old_column = FindColumn(change.old_row, name); old_column && !FindColumn(row, name))
			row.push_back(*old_column);
	return row;
}

// KeyValues returns, for each key column of table, its value in "old" if there, else in "new"; sets moved when an
// old value differs from the new one.
ColumnRefs
KeyValues(const SqliteTable &table, const Change &change, bool &moved) {
	ColumnRefs key;
	key.reserve(table.primary_key.size());
	moved = false;
	for (const std::string &name : table.primary_key) {
		const Column *new_column = FindColumn(change.new_row, name);
		const Column *old_column = change.has_old ? FindColumn(change.old_row, name) : nullptr;
		if (old_column == nullptr && new_column == nullptr)
			throw std::runtime_error("cannot apply update to " + table.quoted + ": key column " +
									 QuoteIdentifier(name) + " is in neither \"old\" nor \"new\"");
		key.push_back(old_column != nullptr ? old_column : new_column);
		moved = moved || (old_column != nullptr && new_column != nullptr && old_column->value != new_column->value);
	}
	return key;
}

// OneRowMatching returns "<rowid> IN (SELECT <rowid> FROM t WHERE a IS ?n ... LIMIT 1)" for a keyless table.
std::string
OneRowMatching(const SqliteTable &table, const ColumnRefs &columns, int first_index) {
	if (table.rowid.empty())
		throw std::runtime_error("cannot find rows of keyless table " + table.quoted +
								 ": its columns shadow rowid, _rowid_ and oid");
	return table.rowid + " IN (SELECT " + table.rowid + " FROM " + table.quoted + " WHERE " +
		   Conditions(columns, first_index, "IS") + " LIMIT 1)";
}

} // namespace sqlite_sql

using sqlite_sql::Assignments;
using sqlite_sql::CacheKey;
using sqlite_sql::ColumnList;
using sqlite_sql::ColumnRefs;
using sqlite_sql::Conditions;
using sqlite_sql::FindColumn;
using sqlite_sql::KeyValues;
using sqlite_sql::KindOf;
using sqlite_sql::OneRowMatching;
using sqlite_sql::Refs;
using sqlite_sql::ThrowMissingOld;
using sqlite_sql::WithUnchangedFromOld;

void
BindSqliteValue(sqlite3 *db, sqlite3_stmt *stmt, int index, const Value &value, ColumnKind kind,
				std::string_view column) {
	int rc = SQLITE_OK;
	if (IsNull(value)) {
		rc = sqlite3_bind_null(stmt, index);
	} else if (const bool *flag = std::get_if<bool>(&value)) {
		rc = sqlite3_bind_int(stmt, index, *flag ? 1 : 0);
	} else if (const std::int64_t *integer = std::get_if<std::int64_t>(&value)) {
		rc = sqlite3_bind_int64(stmt, index, *integer);
	} else if (const double *number = std::get_if<double>(&value)) {
		rc = sqlite3_bind_double(stmt, index, *number);
	} else if (const std::string_view *text = std::get_if<std::string_view>(&value);
			   text != nullptr && kind == ColumnKind::Blob) {
		std::optional<std::string> bytes = DecodeByteaHex(*text);
		if (!bytes)
			throw std::runtime_error("column " + QuoteIdentifier(column) + " is bytea but its value is not \\x hex");
		rc = sqlite3_bind_blob64(stmt, index, bytes->data(), bytes->size(), SQLITE_TRANSIENT);
	} else if (text != nullptr) {
		BindText(db, stmt, index, *text);
	} else {
		BindText(db, stmt, index, std::get<RawJson>(value).text);
	}
	if (rc != SQLITE_OK)
		throw SqliteError("SQLite failed to bind column " + QuoteIdentifier(column), db, rc);
}

// ApplyUpsert builds INSERT ... ON CONFLICT (key) DO UPDATE SET <non-key columns present> (plain on keyless).
void
SqliteSink::ApplyUpsert(const SqliteTable &table, const std::vector<Column> &row) {
	for (const std::string &key_column : table.primary_key)
		if (!FindColumn(row, key_column))
			throw std::runtime_error("cannot apply a row to " + table.quoted + ": key column " +
									 QuoteIdentifier(key_column) + " is missing from \"new\"");
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "upsert", table, row), [&] {
		std::string sql = "INSERT INTO " + table.quoted + " (" + ColumnList(row) + ") VALUES (";
		for (std::size_t i = 0; i < row.size(); ++i)
			sql += (i == 0 ? "?" : ", ?") + std::to_string(i + 1);
		sql += ")";
		if (table.primary_key.empty())
			return sql;
		std::string set;
		for (const Column &column : row)
			if (std::find(table.primary_key.begin(), table.primary_key.end(), column.name) == table.primary_key.end())
				set += (set.empty() ? "" : ", ") + QuoteIdentifier(column.name) + " = excluded." +
					   QuoteIdentifier(column.name);
		sql += " ON CONFLICT (";
		for (std::size_t i = 0; i < table.primary_key.size(); ++i)
			sql += (i == 0 ? "" : ", ") + QuoteIdentifier(table.primary_key[i]);
		return sql + ") DO " + (set.empty() ? "NOTHING" : "UPDATE SET " + set);
	});
	for (std::size_t i = 0; i < row.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 1), row[i].value, KindOf(table, row[i].name),
						row[i].name);
	RunSql(db_.get(), stmt);
}

// ApplyUpdate upserts when the key is unchanged; else moves the row (UPDATE OR REPLACE ... WHERE old key, so
// unchanged columns keep their values), or upserts when no row had the old key (a replay, or a keyless miss).
void
SqliteSink::ApplyUpdate(const SqliteTable &table, const Change &change) {
	ColumnRefs where;
	std::string_view tag;
	if (table.primary_key.empty()) {
		if (!change.has_old)
			ThrowMissingOld(change);
		where = Refs(change.old_row);
		tag = "update-one";
	} else {
		bool moved = false;
		where = KeyValues(table, change, moved);
		if (!moved) {
			ApplyUpsert(table, change.new_row);
			return;
		}
		tag = "update-key";
	}
	const std::vector<Column> &row = change.new_row;
	int first_where = static_cast<int>(row.size()) + 1;
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, tag, table, row, where), [&] {
		if (table.primary_key.empty())
			return "UPDATE " + table.quoted + " SET " + Assignments(row) + " WHERE " +
				   OneRowMatching(table, where, first_where);
		return "UPDATE OR REPLACE " + table.quoted + " SET " + Assignments(row) + " WHERE " +
			   Conditions(where, first_where, "=");
	});
	for (std::size_t i = 0; i < row.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 1), row[i].value, KindOf(table, row[i].name),
						row[i].name);
	for (std::size_t i = 0; i < where.size(); ++i)
		BindSqliteValue(db_.get(), stmt, first_where + static_cast<int>(i), where[i]->value,
						KindOf(table, where[i]->name), where[i]->name);
	RunSql(db_.get(), stmt);
	if (sqlite3_changes(db_.get()) == 0)
		ApplyUpsert(table, WithUnchangedFromOld(change));
}

// ApplyDelete deletes by the key columns of "old", or one row equal to "old" on a keyless table.
void
SqliteSink::ApplyDelete(const SqliteTable &table, const Change &change) {
	if (!change.has_old)
		ThrowMissingOld(change);
	ColumnRefs where;
	if (table.primary_key.empty()) {
		where = Refs(change.old_row);
	} else {
		where.reserve(table.primary_key.size());
		for (const std::string &name : table.primary_key) {
			const Column *column = FindColumn(change.old_row, name);
			if (column == nullptr)
				throw std::runtime_error("cannot apply delete to " + table.quoted + ": key column " +
										 QuoteIdentifier(name) + " is missing from \"old\"");
			where.push_back(column);
		}
	}
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "delete", table, {}, where), [&] {
		if (table.primary_key.empty())
			return "DELETE FROM " + table.quoted + " WHERE " + OneRowMatching(table, where, 1);
		return "DELETE FROM " + table.quoted + " WHERE " + Conditions(where, 1, "=");
	});
	for (std::size_t i = 0; i < where.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 1), where[i]->value, KindOf(table, where[i]->name),
						where[i]->name);
	RunSql(db_.get(), stmt);
}

// FillColumn runs UPDATE table SET column = value (not cached: it runs once per added column).
void
SqliteSink::FillColumn(const SqliteTable &table, const std::string &column, const Value &value) {
	SqliteStmtHandle stmt =
		PrepareSql(db_.get(), "UPDATE " + table.quoted + " SET " + QuoteIdentifier(column) + " = ?1");
	BindSqliteValue(db_.get(), stmt.get(), 1, value, KindOf(table, column), column);
	RunSql(db_.get(), stmt.get());
}

// ApplyTruncate runs DELETE FROM for each listed table the sink holds (a partitioned parent holds no rows here).
void
SqliteSink::ApplyTruncate(const Change &change) {
	for (const TruncateTarget &target : change.truncate_tables) {
		if (target.partition)
			throw RecopyNeeded("a truncate of partition " + target.partition->schema + "." + target.partition->table +
							   " alone, whose rows the SQLite table of its root " + target.schema + "." + target.table +
							   " cannot tell apart");
		std::string name = SqliteTableName(target.schema, target.table);
		auto found = tables_.find(name);
		if (found == tables_.end()) {
			std::optional<SqliteTable> loaded = LoadSqliteTable(db_.get(), name);
			if (!loaded)
				continue;
			found = tables_.emplace(name, std::move(*loaded)).first;
		}
		const SqliteTable &table = found->second;
		RunSql(db_.get(),
			   Statement(CacheKey(key_buffer_, "truncate", table, {}), [&] { return "DELETE FROM " + table.quoted; }));
		if (row_times_) {
			sqlite3_stmt *forget = Statement(CacheKey(key_buffer_, "truncate-times", table, {}), [&] {
				return "DELETE FROM _mosta_row_times WHERE tbl = " + QuoteLiteral(table.name);
			});
			RunSql(db_.get(), forget);
		}
	}
}

} // namespace mosta::sidecar
