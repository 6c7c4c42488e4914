/*
 * sql_dump_ddl.cpp
 *     SqlDumpSink::WriteDdl: the PostgreSQL DDL of a mostajs.ddl message (docs/capture.md section 3), written into
 *     the source transaction where the message sits, so the dump replays to the same shape:
 *       - "dropped":true                 DROP TABLE IF EXISTS
 *       - a table not declared yet       CREATE SCHEMA / CREATE TABLE IF NOT EXISTS with the message's columns and
 *                                        PRIMARY KEY from "key" (only when ddl_collections covers it, and only for
 *                                        a CREATE command, or for any command after a reopen, when the dump may
 *                                        hold it from before), then, after a reopen, one DO block that drops the
 *                                        columns not in the message and retypes those whose type differs
 *       - a table declared in this run   RENAME COLUMN (recognized as ddl_message.hpp says), DROP COLUMN IF EXISTS,
 *                                        ADD COLUMN IF NOT EXISTS, ALTER COLUMN ... TYPE t USING col::t
 *     A column added with a "fill" (PostgreSQL's fast default) gets UPDATE ... SET col = fill, so the rows the dump
 *     holds read as the source's older rows do (after a reopen, inside a DO block that adds and fills the column
 *     only when the dump's table lacks it); a column added by a command that "rewrote" the table without a "fill"
 *     (a volatile default) throws RecopyNeeded. Messages about partitions ("partition_root") are left alone: the
 *     sidecar streams partitions under their root.
 *     Before the table, the user types its columns need ("types") are created or brought up to date.
 *     Not followed: defaults, NOT NULL and key changes (the dump keeps the key it declared; its upserts use it).
 */
#include <algorithm>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"
#include "sink/ddl_message.hpp"
#include "sink/sql_dump_literal.hpp"
#include "sink/sql_dump_sink.hpp"

namespace mosta::sidecar {

namespace {

// Checked returns text, refusing a line break (which could forge a checkpoint line).
const std::string &
Checked(const std::string &text, std::string_view what) {
	if (text.find_first_of("\r\n") != std::string::npos)
		throw std::invalid_argument("SQL dump sink: " + std::string(what) + " " + QuoteLiteral(text) +
									" contains a line break, which the dump cannot hold");
	return text;
}

// Retype returns ALTER TABLE q ALTER COLUMN c TYPE t USING c::t.
std::string
Retype(const std::string &quoted, const std::string &column, const std::string &type) {
	std::string ident = QuoteIdentifier(Checked(column, "column name"));
	return "ALTER TABLE " + quoted + " ALTER COLUMN " + ident + " TYPE " + type + " USING " + ident + "::" + type;
}

// Fill returns UPDATE q SET c = literal of column's fill.
std::string
Fill(const std::string &quoted, const DdlColumn &column) {
	return "UPDATE " + quoted + " SET " + QuoteIdentifier(Checked(column.name, "column name")) + " = " +
		   SqlLiteral(*column.fill, column.type);
}

// FillIfMissing returns a DO block that adds column to q and fills it only when q exists without it (the dump,
// reopened, does not know which columns its file declared).
std::string
FillIfMissing(const std::string &quoted, const DdlColumn &column) {
	std::string body = "BEGIN IF to_regclass(" + QuoteLiteral(quoted) +
					   ") IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(" +
					   QuoteLiteral(quoted) + ") AND attname = " + QuoteLiteral(column.name) +
					   " AND NOT attisdropped) THEN ALTER TABLE " + quoted + " ADD COLUMN " +
					   QuoteIdentifier(column.name) + " " + column.type + "; " + Fill(quoted, column) + "; END IF; END";
	return "DO " + DollarQuote(body) + ";\n";
}

// ColumnsWithDefault lists the message's columns that have a default (what a rewrite may have filled).
std::vector<std::string>
ColumnsWithDefault(const DdlMessage &message) {
	std::vector<std::string> names;
	for (const DdlColumn &column : message.columns)
		if (column.default_expr)
			names.push_back(column.name);
	return names;
}

} // namespace

// WriteDdl writes the DDL of a mostajs.ddl message and updates the declared tables to match.
void
SqlDumpSink::WriteDdl(const Change &change) {
	std::optional<DdlMessage> message = ParseDdlMessage(change);
	if (!message || message->partition_root)
		return;
	std::string quoted =
		QuoteQualifiedName(Checked(message->schema, "schema name"), Checked(message->table, "table name"));
	auto found = tables_.find(quoted);
	bool declared = found != tables_.end();
	bool covered = RuleCoversTable(ddl_collections_, message->schema, message->table);
	if (message->dropped) {
		if (declared || covered) {
			spool_.Append("DROP TABLE IF EXISTS " + quoted + ";\n");
			if (declared)
				tables_.erase(found);
		}
		return;
	}
	for (const DdlColumn &column : message->columns)
		Checked(column.type, "type name");
	if (declared || (covered && !message->columns.empty() && (message->IsCreate() || redeclare_)))
		WriteTypes(message->types); // the user types the table needs, before it (sql_dump_types.cpp)
	if (!declared) {
		if (!covered || message->columns.empty() || !(message->IsCreate() || redeclare_))
			return;
		if (redeclare_ && !message->IsCreate()) {
			if (NeedsRecopy(*message, ColumnsWithDefault(*message)))
				throw RecopyNeeded("SQL dump table " + quoted +
								   " was rewritten with column values only the source holds (a volatile default)");
			for (const DdlColumn &column : message->columns)
				if (column.fill)
					spool_.Append(FillIfMissing(quoted, column));
		}
		Change shape = ShapeAsChange(*message);
		Table(shape); // CREATE TABLE IF NOT EXISTS (+ ADD COLUMN IF NOT EXISTS after a reopen)
		if (!redeclare_)
			return;
		// after a reopen the dump may hold an older shape of the table: drop and retype by the catalog
		std::string names;
		std::string types;
		for (const DdlColumn &column : message->columns) {
			names += (names.empty() ? "" : ", ") + QuoteDumpLiteral(column.name);
			types += (types.empty() ? "" : ", ") + QuoteDumpLiteral(column.type);
		}
		std::string body =
			"DECLARE c record; BEGIN FOR c IN SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS t, s.type "
			"FROM pg_attribute a LEFT JOIN unnest(ARRAY[" +
			names + "]::text[], ARRAY[" + types +
			"]::text[]) s(name, type) ON s.name = a.attname WHERE a.attrelid = " + QuoteLiteral(quoted) +
			"::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP IF c.type IS NULL THEN EXECUTE format('ALTER "
			"TABLE %s DROP COLUMN %I', " +
			QuoteLiteral(quoted) +
			", c.attname); ELSIF c.t <> c.type THEN EXECUTE "
			"format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s', " +
			QuoteLiteral(quoted) + ", c.attname, c.type, c.attname, c.type); END IF; END LOOP; END";
		spool_.Append("DO " + DollarQuote(body) + ";\n");
		return;
	}
	SqlDumpTable &table = found->second;
	ColumnDiff diff = DiffColumns(table.order, message->columns);
	if (NeedsRecopy(*message, diff.added))
		throw RecopyNeeded("SQL dump table " + quoted +
						   " was rewritten with new column values only the source holds (a volatile default)");
	for (const auto &[from, to] : diff.renamed) {
		spool_.Append("ALTER TABLE " + quoted + " RENAME COLUMN " + QuoteIdentifier(Checked(from, "column name")) +
					  " TO " + QuoteIdentifier(Checked(to, "column name")) + ";\n");
		std::replace(table.order.begin(), table.order.end(), from, to);
		std::replace(table.key.begin(), table.key.end(), from, to);
		if (auto type = table.types.extract(from); !type.empty()) {
			type.key() = to;
			table.types.insert(std::move(type));
		}
		if (auto base = table.bases.extract(from); !base.empty()) {
			base.key() = to;
			table.bases.insert(std::move(base));
		}
	}
	for (const std::string &column : diff.dropped) {
		spool_.Append("ALTER TABLE " + quoted + " DROP COLUMN IF EXISTS " + QuoteIdentifier(column) + ";\n");
		table.order.erase(std::remove(table.order.begin(), table.order.end(), column), table.order.end());
		table.types.erase(column);
		table.bases.erase(column);
	}
	for (const DdlColumn &column : message->columns) {
		auto type = table.types.find(column.name);
		if (type != table.types.end() && type->second != column.type) {
			spool_.Append(Retype(quoted, column.name, column.type) + ";\n");
			type->second = column.type;
			table.bases.erase(column.name);
			if (std::string base = BaseType(column.type); !base.empty())
				table.bases[column.name] = base; // a domain's values take its base type's form
		}
	}
	Change shape = ShapeAsChange(*message);
	Table(shape); // ADD COLUMN IF NOT EXISTS for the new columns
	for (const std::string &name : diff.added)
		if (const DdlColumn *column = FindDdlColumn(*message, name); column != nullptr && column->fill)
			spool_.Append(Fill(quoted, *column) + ";\n");
}

} // namespace mosta::sidecar
