/*
 * sqlite_ddl.cpp
 *     SqliteSink::ApplyDdl: following a table's shape from mostajs.ddl messages (docs/capture.md section 3), inside
 *     the open SQLite transaction, in stream order:
 *       - "dropped":true on a held table            DROP TABLE IF EXISTS
 *       - CREATE TABLE (AS, SELECT INTO) of a table that ddl_collections covers and the file does not hold
 *                                                   CREATE TABLE with the mapped types and PRIMARY KEY from "key"
 *       - any other message on a held table         RENAME COLUMN (recognized as ddl_message.hpp says, else the
 *                                                   change is a DROP + ADD), DROP COLUMN (SQLite 3.35+), ADD COLUMN
 *     Messages about tables the file does not hold (and is not told to create) are ignored, as their changes are,
 *     and so are messages about partitions ("partition_root"): the sidecar streams them under their root.
 *     A column added with a "fill" (PostgreSQL's fast default) is set to it in every row the table holds, as the
 *     source's older rows read it; a column added by a command that "rewrote" the table without a "fill" (a
 *     volatile default) throws RecopyNeeded: only a new copy can give the rows the source's values.
 *     Not followed: a type change (SQLite is dynamically typed: a column keeps its declared type, and values of the
 *     new type are stored as they arrive), a key change (SQLite cannot alter a PRIMARY KEY; upserts keep using the
 *     table's key), defaults and NOT NULL (the target only mirrors rows). Dropping a column of the SQLite primary
 *     key cannot be done in place and throws, naming the fix (a new snapshot of the table).
 */
#include <algorithm>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"
#include "sink/ddl_message.hpp"
#include "sink/sqlite_sink.hpp"

namespace mosta::sidecar {

namespace {

// HeldColumns returns the table's columns in column order.
std::vector<std::string>
HeldColumns(sqlite3 *db, const std::string &name) {
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT name FROM pragma_table_info(?1) ORDER BY cid");
	BindText(db, stmt.get(), 1, name);
	std::vector<std::string> columns;
	while (StepSql(db, stmt.get()))
		columns.push_back(ColumnText(stmt.get(), 0));
	return columns;
}

} // namespace

void
SqliteSink::ApplyDdl(const Change &change) {
	std::optional<DdlMessage> message = ParseDdlMessage(change);
	if (!message || message->partition_root)
		return;
	last_table_ = nullptr; // the DDL may erase or replace an entry of tables_
	std::string name = SqliteTableName(message->schema, message->table);
	std::string quoted = QuoteIdentifier(name);
	bool held = tables_.count(name) != 0 || LoadSqliteTable(db_.get(), name).has_value();
	if (message->dropped) {
		if (held) {
			statements_.clear();
			tables_.erase(name);
			shapes_.erase(name);
			ExecSql(db_.get(), "DROP TABLE IF EXISTS " + quoted); // its triggers go with it
			if (record_types_)
				ForgetTable(db_.get(), name);
		}
		return;
	}
	if (!held) {
		if (message->IsCreate() && RuleCoversTable(options_.ddl_collections, message->schema, message->table) &&
			!message->columns.empty()) {
			Change shape = ShapeAsChange(*message);
			tables_.insert_or_assign(name, CreateSqliteTable(db_.get(), name, shape));
			if (record_types_)
				ShapeChanged(name, shape, true, false);
		}
		return;
	}
	std::optional<SqliteTable> table = LoadSqliteTable(db_.get(), name);
	ColumnDiff diff = DiffColumns(HeldColumns(db_.get(), name), message->columns);
	if (diff.renamed.empty() && diff.dropped.empty() && diff.added.empty()) {
		// a type, key, default or replica identity change: nothing to do in SQLite but record the new types
		if (record_types_)
			ShapeChanged(name, ShapeAsChange(*message), false, false);
		return;
	}
	if (NeedsRecopy(*message, diff.added))
		throw RecopyNeeded("SQLite table " + quoted + ": " + message->schema + "." + message->table +
						   " was rewritten with new column values only the source holds (a volatile default)");
	statements_.clear(); // cached statements may name a renamed or dropped column
	if (capture_)
		DropCaptureTriggers(db_.get(), name); // SQLite refuses to drop a column a trigger reads
	for (const auto &[from, to] : diff.renamed)
		ExecSql(db_.get(),
				"ALTER TABLE " + quoted + " RENAME COLUMN " + QuoteIdentifier(from) + " TO " + QuoteIdentifier(to));
	for (const std::string &column : diff.dropped) {
		if (std::find(table->primary_key.begin(), table->primary_key.end(), column) != table->primary_key.end())
			throw std::runtime_error("SQLite sink: cannot drop column " + QuoteIdentifier(column) + " of " + quoted +
									 ": it is part of the SQLite table's primary key; drop the SQLite table and take "
									 "a new snapshot of " +
									 message->schema + "." + message->table);
		ExecSql(db_.get(), "ALTER TABLE " + quoted + " DROP COLUMN " + QuoteIdentifier(column));
	}
	std::optional<SqliteTable> reloaded = LoadSqliteTable(db_.get(), name);
	AddMissingColumns(db_.get(), *reloaded, ShapeAsChange(*message));
	for (const std::string &column : diff.added)
		if (const DdlColumn *added = FindDdlColumn(*message, column); added != nullptr && added->fill)
			FillColumn(*reloaded, column, *added->fill);
	tables_.insert_or_assign(name, std::move(*reloaded));
	if (record_types_) {
		RecordColumnTypes(db_.get(), name, ShapeAsChange(*message), true);
		Recapture(name);
	}
}

} // namespace mosta::sidecar
