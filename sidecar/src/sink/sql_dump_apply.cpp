/*
 * sql_dump_apply.cpp
 *     The statements of SqlDumpSink: table declaration (CREATE/ALTER), upsert, update, delete and truncate, as
 *     PostgreSQL SQL text appended to the open transaction through SpooledTransaction (see sql_dump_sink.hpp for
 *     the semantics).
 */
#include <algorithm>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"
#include "sink/sql_dump_literal.hpp"
#include "sink/sql_dump_sink.hpp"

namespace mosta::sidecar {

namespace {

// OneLine returns text, refusing a line break (which could forge a checkpoint line).
const std::string &
OneLine(const std::string &text, std::string_view what) {
	if (text.find_first_of("\r\n") != std::string::npos)
		throw std::invalid_argument("SQL dump sink: " + std::string(what) + " " + QuoteLiteral(text) +
									" contains a line break, which the dump cannot hold");
	return text;
}

// Ident quotes a column name (one line).
std::string
Ident(std::string_view name) {
	return QuoteIdentifier(OneLine(std::string(name), "column name"));
}

// FindColumn returns the column called name in row, or null.
const Column *
FindColumn(const std::vector<Column> &row, std::string_view name) {
	auto found = std::find_if(row.begin(), row.end(), [&](const Column &column) { return column.name == name; });
	return found == row.end() ? nullptr : &*found;
}

// IsKey tells whether name is one of table's key columns.
bool
IsKey(const SqlDumpTable &table, std::string_view name) {
	return std::find(table.key.begin(), table.key.end(), name) != table.key.end();
}

// Literal returns column's value as a literal of its declared type.
std::string
Literal(const SqlDumpTable &table, const Column &column) {
	auto type = table.types.find(column.name);
	auto base = table.bases.find(column.name);
	return SqlLiteral(column.value, type == table.types.end() ? std::string_view() : type->second,
					  base == table.bases.end() ? std::string_view() : base->second);
}

// KeyMatch returns "k1" = lit AND ... for the key columns found in row; throws naming what when one is missing.
std::string
KeyMatch(const SqlDumpTable &table, const std::vector<Column> &row, std::string_view what) {
	std::string sql;
	for (const std::string &name : table.key) {
		const Column *column = FindColumn(row, name);
		if (column == nullptr)
			throw std::runtime_error("SQL dump sink: cannot write a change of " + table.quoted + ": key column " +
									 QuoteIdentifier(name) + " is missing from \"" + std::string(what) + "\"");
		sql += (sql.empty() ? "" : " AND ") + Ident(name) + " = " + Literal(table, *column);
	}
	return sql;
}

// OneRowMatching returns "ctid = (SELECT ctid FROM t WHERE c::text IS NOT DISTINCT FROM (lit)::text ... LIMIT 1)".
std::string
OneRowMatching(const SqlDumpTable &table, const std::vector<Column> &row) {
	std::string sql;
	for (const Column &column : row)
		sql += (sql.empty() ? "" : " AND ") + Ident(column.name) + "::text IS NOT DISTINCT FROM (" +
			   Literal(table, column) + ")::text";
	return "ctid = (SELECT ctid FROM " + table.quoted + (sql.empty() ? "" : " WHERE " + sql) + " LIMIT 1)";
}

// Assignments returns "a" = lit, ... for the columns of row.
std::string
Assignments(const SqlDumpTable &table, const std::vector<Column> &row) {
	std::string sql;
	for (const Column &column : row)
		sql += (sql.empty() ? "" : ", ") + Ident(column.name) + " = " + Literal(table, column);
	return sql;
}

// ThrowMissingOld reports an update or delete that needs "old" but has none.
[[noreturn]] void
ThrowMissingOld(const SqlDumpTable &table, const Change &change) {
	throw std::runtime_error("SQL dump sink: cannot write " + std::string(OpName(change.op)) + " of " + table.quoted +
							 ": the document has no \"old\" to find the row by (REPLICA IDENTITY NOTHING, or DEFAULT "
							 "without a primary key); give the table a primary key or REPLICA IDENTITY FULL");
}

} // namespace

// Table declares change's table (and schema) on first sight and any column not declared yet.
SqlDumpTable &
SqlDumpSink::Table(const Change &change) {
	std::string quoted =
		QuoteQualifiedName(OneLine(change.Schema(), "schema name"), OneLine(change.Table(), "table name"));
	auto found = tables_.find(quoted);
	bool created = false;
	if (found == tables_.end()) {
		if (schemas_.insert(change.Schema()).second)
			spool_.Append("CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(change.Schema()) + ";\n");
		found = tables_.emplace(quoted, SqlDumpTable{quoted, change.Key(), {}, {}, {}}).first;
		created = true;
	}
	SqlDumpTable &table = found->second;
	std::vector<std::pair<std::string, std::string>> added; // (column, type) in document order
	for (const std::vector<Column> *row : {&change.new_row, &change.old_row})
		for (const Column &column : *row) {
			if (table.types.count(column.name) != 0 ||
				std::any_of(added.begin(), added.end(), [&](const auto &a) { return a.first == column.name; }))
				continue;
			std::string_view type = change.TypeOf(column.name);
			if (type.empty())
				throw std::runtime_error("SQL dump sink: column " + QuoteIdentifier(column.name) + " of " + quoted +
										 " has no type: read the slot with include-types=on");
			added.emplace_back(column.name, OneLine(std::string(type), "type name"));
		}
	if (created) {
		std::string columns;
		for (const auto &[name, type] : added)
			columns += (columns.empty() ? "" : ", ") + Ident(name) + " " + type;
		if (!table.key.empty()) {
			std::string key;
			for (const std::string &name : table.key)
				key += (key.empty() ? "" : ", ") + Ident(name);
			columns += (columns.empty() ? "" : ", ") + std::string("PRIMARY KEY (") + key + ")";
		}
		spool_.Append("CREATE TABLE IF NOT EXISTS " + quoted + " (" + columns + ");\n");
	}
	for (const auto &[name, type] : added) {
		if (!created || redeclare_)
			spool_.Append("ALTER TABLE " + quoted + " ADD COLUMN IF NOT EXISTS " + Ident(name) + " " + type + ";\n");
		if (table.types.emplace(name, type).second)
			table.order.push_back(name);
		if (std::string base = BaseType(type); !base.empty())
			table.bases[name] = base;
	}
	return table;
}

// WriteUpsert writes INSERT ... ON CONFLICT (key) DO UPDATE SET <non-key columns present> (plain when keyless).
void
SqlDumpSink::WriteUpsert(const SqlDumpTable &table, const std::vector<Column> &row) {
	KeyMatch(table, row, "new"); // checks that every key column is there
	std::string columns;
	std::string values;
	std::string set;
	for (const Column &column : row) {
		columns += (columns.empty() ? "" : ", ") + Ident(column.name);
		values += (values.empty() ? "" : ", ") + Literal(table, column);
		if (!IsKey(table, column.name))
			set += (set.empty() ? "" : ", ") + Ident(column.name) + " = EXCLUDED." + Ident(column.name);
	}
	spool_.Append("INSERT INTO " + table.quoted + " (" + columns + ") VALUES (" + values + ")");
	if (!table.key.empty()) {
		std::string key;
		for (const std::string &name : table.key)
			key += (key.empty() ? "" : ", ") + Ident(name);
		spool_.Append(" ON CONFLICT (" + key + ") DO " + (set.empty() ? "NOTHING" : "UPDATE SET " + set));
	}
	spool_.Append(";\n");
}

// WriteUpdate writes an upsert when the key did not move, else UPDATE ... WHERE old key; keyless: one row = "old".
void
SqlDumpSink::WriteUpdate(const SqlDumpTable &table, const Change &change) {
	if (table.key.empty()) {
		if (!change.has_old)
			ThrowMissingOld(table, change);
		spool_.Append("UPDATE " + table.quoted + " SET " + Assignments(table, change.new_row) + " WHERE " +
					  OneRowMatching(table, change.old_row) + ";\n");
		return;
	}
	bool moved = false;
	for (const std::string &name : table.key) {
		const Column *old_column = change.has_old ? FindColumn(change.old_row, name) : nullptr;
		const Column *new_column = FindColumn(change.new_row, name);
		moved = moved || (old_column != nullptr && new_column != nullptr && old_column->value != new_column->value);
	}
	if (!moved) {
		WriteUpsert(table, change.new_row);
		return;
	}
	spool_.Append("UPDATE " + table.quoted + " SET " + Assignments(table, change.new_row) + " WHERE " +
				  KeyMatch(table, change.old_row, "old") + ";\n");
}

// WriteDelete writes DELETE by the key in "old", or of one row equal to "old" on a keyless table.
void
SqlDumpSink::WriteDelete(const SqlDumpTable &table, const Change &change) {
	if (!change.has_old)
		ThrowMissingOld(table, change);
	spool_.Append("DELETE FROM " + table.quoted + " WHERE " +
				  (table.key.empty() ? OneRowMatching(table, change.old_row) : KeyMatch(table, change.old_row, "old")) +
				  ";\n");
}

// WriteTruncate writes TRUNCATE for each declared table, and a DO block (truncate if it exists) for the others.
void
SqlDumpSink::WriteTruncate(const Change &change) {
	std::string restart = change.restart_identity ? " RESTART IDENTITY" : "";
	for (const TruncateTarget &target : change.truncate_tables) {
		if (target.partition)
			throw RecopyNeeded("a truncate of partition " + target.partition->schema + "." + target.partition->table +
							   " alone, whose rows the SQL dump's table of its root " + target.schema + "." +
							   target.table + " cannot tell apart");
		std::string quoted =
			QuoteQualifiedName(OneLine(target.schema, "schema name"), OneLine(target.table, "table name"));
		if (tables_.count(quoted) != 0) {
			spool_.Append("TRUNCATE " + quoted + restart + ";\n");
			continue;
		}
		std::string body = "BEGIN IF to_regclass(" + QuoteLiteral(quoted) + ") IS NOT NULL THEN EXECUTE " +
						   QuoteLiteral("TRUNCATE " + quoted + restart) + "; END IF; END";
		spool_.Append("DO " + DollarQuote(body) + ";\n");
	}
}

} // namespace mosta::sidecar
