/*
 * pg_apply.cpp
 *     Bulk apply of the PostgreSQL sink (a cdc rule: no conflict handler). Row changes are gathered into runs
 *     (pg_sink_impl.hpp's PgRun), each applied by one statement when it ends (another table, op or column set,
 *     a truncate or message, the end of the source transaction):
 *       inserts   COPY table (columns) FROM STDIN
 *       updates   COPY into a staging table (text columns: the old key, then the new values), then
 *                 UPDATE table SET c = s.cN::type ... FROM staging s WHERE key = s.kN::type
 *       deletes   COPY the old keys into a staging table, then DELETE FROM table USING staging s WHERE key = ...
 *     A run never holds one key twice (the UPDATE ... FROM would apply one of the two, chosen by the join): a
 *     repeated key ends the run first. An update that moves the key, and every update or delete of a table
 *     without a key (REPLICA IDENTITY FULL: the row is found by its whole old image, one row of equal ones), is
 *     applied alone. The order of the source transaction is kept: runs are applied in order, and changes within a
 *     run touch distinct rows.
 *     Staging tables are temporary, one per column count ("mosta_stage_N", text columns c1..cN), created in the
 *     open transaction when first needed and emptied (TRUNCATE) after each run.
 */
#include <algorithm>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"
#include "sink/pg_sink_impl.hpp"

namespace mosta::sidecar {

namespace {

// kRunBytes is the size at which a run is applied before its end, so that a long run (the initial copy's rows
// of a big table) is streamed with bounded memory; the rest continues as a new run of the same shape.
constexpr std::size_t kRunBytes = 8U << 20;

// SameNames tells whether names are the names of row, in order.
bool
SameNames(const std::vector<std::string> &names, const std::vector<Column> &row) noexcept {
	if (names.size() != row.size())
		return false;
	for (std::size_t i = 0; i < row.size(); ++i)
		if (names[i] != row[i].name)
			return false;
	return true;
}

// Names returns the names of row.
std::vector<std::string>
Names(const std::vector<Column> &row) {
	std::vector<std::string> names;
	names.reserve(row.size());
	for (const Column &column : row)
		names.emplace_back(column.name);
	return names;
}

} // namespace

// TypeIn returns column's type in table, throwing when the target lacks the column.
std::string
TypeIn(const PgTargetTable &table, std::string_view column) {
	std::string_view type = table.TypeOf(column);
	if (type.empty())
		throw std::runtime_error("PostgreSQL sink: the target table " + table.quoted + " has no column " +
								 QuoteIdentifier(column) + " (add it, or let the sidecar create the table)");
	return std::string(type);
}

// ColumnList returns "a", "b", ... .
std::string
ColumnList(const std::vector<std::string> &names) {
	std::string list;
	for (const std::string &name : names)
		list += (list.empty() ? "" : ", ") + QuoteIdentifier(name);
	return list;
}

// OldKey returns, for each key column, its value in "old" when there, else in "new"; sets moved when an old
// value differs from the new one.
std::vector<const Column *>
OldKey(const Change &change, const std::vector<std::string> &key, bool &moved) {
	std::vector<const Column *> values;
	values.reserve(key.size());
	moved = false;
	for (const std::string &name : key) {
		const Column *old_column = change.has_old ? FindColumn(change.old_row, name) : nullptr;
		const Column *new_column = change.has_new ? FindColumn(change.new_row, name) : nullptr;
		if (old_column != nullptr && new_column != nullptr && !(old_column->value == new_column->value))
			moved = true;
		const Column *value = old_column != nullptr ? old_column : new_column;
		if (value == nullptr)
			ThrowMissingOld(change);
		values.push_back(value);
	}
	return values;
}

// Affected returns the row count of a command's result.
long
Affected(const PGresult *result) {
	const char *count = PQcmdTuples(const_cast<PGresult *>(result));
	return count != nullptr && *count != '\0' ? std::stol(count) : 0;
}

void
PgSink::Impl::ApplyBulk(const Change &change) {
	PgTargetTable *table = Table(change.Schema(), change.Table(), change.relation.get());
	Begin();
	const std::vector<std::string> &key = KeyOf(change);
	if (change.op == Op::Insert) {
		if (run.op != PgRunOp::Insert || run.table != table || !SameNames(run.columns, change.new_row)) {
			FlushRun();
			for (const Column &column : change.new_row)
				TypeIn(*table, column.name);
			run.op = PgRunOp::Insert;
			run.table = table;
			run.columns = Names(change.new_row);
		}
		for (std::size_t i = 0; i < change.new_row.size(); ++i) {
			if (i > 0)
				run.data += '\t';
			writer.AppendCopyField(run.data, change.new_row[i]);
		}
		run.data += '\n';
		++run.rows;
		if (run.data.size() >= kRunBytes)
			FlushRunKeepingShape();
		return;
	}
	if (key.empty()) { // a keyless table: each change alone, by its whole old image
		FlushRun();
		if (!change.has_old)
			ThrowMissingOld(change);
		Params params;
		std::string match;
		for (const Column &column : change.old_row) {
			std::string type = TypeIn(*table, column.name);
			match += (match.empty() ? "" : " AND ") + QuoteIdentifier(column.name) + "::text IS NOT DISTINCT FROM (" +
					 params.Add(writer, column, type) + ")::text";
		}
		std::string where = " WHERE ctid = (SELECT ctid FROM " + table->quoted + " WHERE " + match + " LIMIT 1)";
		if (change.op == Op::Delete) {
			session->Query("DELETE FROM " + table->quoted + where, params.Values(), "deleting from " + table->quoted);
			return;
		}
		std::string set;
		for (const Column &column : change.new_row)
			set += (set.empty() ? "" : ", ") + QuoteIdentifier(column.name) + " = " +
				   params.Add(writer, column, TypeIn(*table, column.name));
		session->Query("UPDATE " + table->quoted + " SET " + set + where, params.Values(), "updating " + table->quoted);
		return;
	}
	bool moved = false;
	std::vector<const Column *> old_key = OldKey(change, key, moved);
	if (change.op == Op::Update && moved) { // the key moves: alone, by the old key
		FlushRun();
		Params params;
		std::string set, where;
		for (const Column &column : change.new_row)
			set += (set.empty() ? "" : ", ") + QuoteIdentifier(column.name) + " = " +
				   params.Add(writer, column, TypeIn(*table, column.name));
		for (const Column *column : old_key)
			where += (where.empty() ? "" : " AND ") + QuoteIdentifier(column->name) + " = " +
					 params.Add(writer, *column, TypeIn(*table, column->name));
		session->Query("UPDATE " + table->quoted + " SET " + set + " WHERE " + where, params.Values(),
					   "updating " + table->quoted);
		return;
	}
	if (change.op == Op::Delete && !change.has_old)
		ThrowMissingOld(change);
	text.clear();
	for (std::size_t i = 0; i < old_key.size(); ++i) {
		if (i > 0)
			text += '\t';
		writer.AppendCopyField(text, *old_key[i]);
	}
	PgRunOp op = change.op == Op::Update ? PgRunOp::Update : PgRunOp::Delete;
	bool same = run.op == op && run.table == table && run.key == key &&
				(op == PgRunOp::Delete || SameNames(run.columns, change.new_row));
	if (!same || run.keys.count(text) != 0) {
		FlushRun();
		run.op = op;
		run.table = table;
		run.key = key;
		for (const std::string &name : key)
			TypeIn(*table, name);
		if (op == PgRunOp::Update) {
			run.columns = Names(change.new_row);
			for (const std::string &name : run.columns)
				TypeIn(*table, name);
		}
	}
	run.keys.insert(text);
	run.data += text;
	if (op == PgRunOp::Update)
		for (const Column &column : change.new_row) {
			run.data += '\t';
			writer.AppendCopyField(run.data, column);
		}
	run.data += '\n';
	++run.rows;
	if (run.data.size() >= kRunBytes)
		FlushRunKeepingShape();
}

void
PgSink::Impl::FlushRunKeepingShape() {
	PgRun shape;
	shape.op = run.op;
	shape.table = run.table;
	shape.key = run.key;
	shape.columns = run.columns;
	FlushRun();
	run = std::move(shape);
}

void
PgSink::Impl::FlushRun() {
	if (run.op == PgRunOp::None || run.rows == 0) {
		run = PgRun{};
		return;
	}
	PgRun current = std::move(run);
	run = PgRun{};
	const PgTargetTable &table = *current.table;
	if (current.op == PgRunOp::Insert) {
		session->CopyIn("COPY " + table.quoted + " (" + ColumnList(current.columns) + ") FROM STDIN", current.data,
						"inserting into " + table.quoted);
		return;
	}
	std::size_t count = current.key.size() + current.columns.size();
	std::string &stage = staging[std::to_string(count)];
	if (stage.empty()) {
		std::string name = "pg_temp.mosta_stage_" + std::to_string(count);
		std::string columns;
		for (std::size_t i = 1; i <= count; ++i)
			columns += (i == 1 ? "c" : ", c") + std::to_string(i) + " text";
		session->Exec("CREATE TEMP TABLE IF NOT EXISTS mosta_stage_" + std::to_string(count) + " (" + columns + ")",
					  "creating a staging table");
		stage = name;
	}
	session->CopyIn("COPY " + stage + " FROM STDIN", current.data, "staging the changes of " + table.quoted);
	std::string where;
	for (std::size_t i = 0; i < current.key.size(); ++i)
		where += (i == 0 ? "" : " AND ") + std::string("t.") + QuoteIdentifier(current.key[i]) + " = s.c" +
				 std::to_string(i + 1) + "::" + TypeIn(table, current.key[i]);
	std::string sql;
	if (current.op == PgRunOp::Update) {
		// the key columns keep their values (a run holds no update that moves the key): not set
		std::string set;
		for (std::size_t i = 0; i < current.columns.size(); ++i) {
			if (std::find(current.key.begin(), current.key.end(), current.columns[i]) != current.key.end())
				continue;
			set += (set.empty() ? "" : ", ") + QuoteIdentifier(current.columns[i]) + " = s.c" +
				   std::to_string(current.key.size() + i + 1) + "::" + TypeIn(table, current.columns[i]);
		}
		if (set.empty()) { // only key columns, unchanged: nothing to write
			session->Exec("TRUNCATE " + stage, "emptying the staging table");
			return;
		}
		sql = "UPDATE " + table.quoted + " t SET " + set + " FROM " + stage + " s WHERE " + where;
	} else {
		sql = "DELETE FROM " + table.quoted + " t USING " + stage + " s WHERE " + where;
	}
	session->Exec(sql + "; TRUNCATE " + stage,
				  (current.op == PgRunOp::Update ? "updating " : "deleting from ") + table.quoted);
}

} // namespace mosta::sidecar
