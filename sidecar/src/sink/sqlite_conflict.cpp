/*
 * sqlite_conflict.cpp
 *     SqliteSink on a bidirectional side: capture set-up and the guard's statements, column types, row times, and
 *     the row operations checked for conflicts (see sqlite_sink.hpp for the semantics, bidir/conflict.hpp for the
 *     kinds and the decision).
 */
#include <stdexcept>
#include <string>
#include <vector>

#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_apply_sql.hpp"
#include "sink/sqlite_capture.hpp"
#include "sink/sqlite_sink.hpp"

namespace mosta::sidecar {

using sqlite_sql::Assignments;
using sqlite_sql::CacheKey;
using sqlite_sql::ColumnRefs;
using sqlite_sql::Conditions;
using sqlite_sql::FindColumn;
using sqlite_sql::KeyValues;
using sqlite_sql::KindOf;
using sqlite_sql::Refs;
using sqlite_sql::ThrowMissingOld;
using sqlite_sql::WithUnchangedFromOld;

namespace {

// KeyRefs returns the key columns of table as row carries them; empty when one is missing.
ColumnRefs
KeyRefs(const SqliteTable &table, const std::vector<Column> &row) {
	ColumnRefs key;
	key.reserve(table.primary_key.size());
	for (const std::string &name : table.primary_key) {
		const Column *column = FindColumn(row, name);
		if (column == nullptr)
			return {};
		key.push_back(column);
	}
	return key;
}

// KeyRow returns, for each key column of table, its value in "old" if there, else in "new"; sets moved when an old
// value differs from the new one.
std::vector<Column>
KeyRow(const SqliteTable &table, const Change &change, bool &moved) {
	std::vector<Column> key;
	for (const Column *column : KeyValues(table, change, moved))
		key.push_back(*column);
	return key;
}

// ObjectJson returns the JSON object of columns (the documents' encoding).
std::string
ObjectJson(const ColumnRefs &columns) {
	std::string json = "{";
	for (const Column *column : columns) {
		if (json.size() > 1)
			json += ',';
		AppendJsonQuoted(json, column->name);
		json += ':';
		AppendValueJson(json, column->value);
	}
	return json + "}";
}

// ParameterList returns "?first", "?first+1", ... (count of them).
std::vector<std::string>
ParameterList(int first, std::size_t count) {
	std::vector<std::string> parameters;
	for (std::size_t i = 0; i < count; ++i)
		parameters.push_back("?" + std::to_string(first + static_cast<int>(i)));
	return parameters;
}

} // namespace

void
SqliteSink::SetUpCapture() {
	capture_ = options_.capture_guard || CaptureInstalled(db_.get()); // never capture its own writes
	row_times_ = capture_ || static_cast<bool>(options_.on_conflict);
	record_types_ = row_times_ || options_.record_types || TableExists(db_.get(), kColumnTypesTable);
	if (row_times_)
		EnsureCaptureTables(db_.get());
	else if (record_types_)
		EnsureColumnTypesTable(db_.get());
	if (!capture_)
		return;
	InstallCapture(db_.get(), ReplicatedTables(db_.get()));
	guard_on_ = PrepareSql(db_.get(), "UPDATE _mosta_apply_guard SET active = 1");
	guard_off_ = PrepareSql(db_.get(), "UPDATE _mosta_apply_guard SET active = 0");
}

void
SqliteSink::ShapeChanged(const std::string &name, const Change &change, bool created, bool added) {
	bool typed = RecordColumnTypes(db_.get(), name, change);
	if (created || added || typed)
		Recapture(name);
}

void
SqliteSink::Recapture(const std::string &name) {
	shapes_.erase(name);
	statements_.clear(); // probes and row times read the table's columns and types (a rare event: shape changes)
	if (capture_)
		InstallCapture(db_.get(), {name});
}

const CaptureShape &
SqliteSink::Shape(const SqliteTable &table) {
	auto found = shapes_.find(table.name);
	if (found != shapes_.end())
		return found->second;
	std::optional<CaptureShape> shape = LoadCaptureShape(db_.get(), table.name);
	if (!shape)
		throw std::runtime_error("SQLite sink: table " + table.quoted + " vanished");
	return shapes_.emplace(table.name, std::move(*shape)).first->second;
}

void
SqliteSink::NoteRowTime(const SqliteTable &table, const std::vector<Column> &row) {
	ColumnRefs key = KeyRefs(table, row);
	if (commit_time_.empty() || key.empty())
		return;
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "row-time", table, {}), [&] {
		return "INSERT INTO _mosta_row_times (tbl, key, at) VALUES (?1, " +
			   KeyTextSql(Shape(table), ParameterList(3, key.size())) +
			   ", ?2) ON CONFLICT (tbl, key) DO UPDATE SET at = excluded.at";
	});
	BindText(db_.get(), stmt, 1, table.name);
	BindText(db_.get(), stmt, 2, commit_time_);
	for (std::size_t i = 0; i < key.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 3), key[i]->value, KindOf(table, key[i]->name),
						key[i]->name);
	RunSql(db_.get(), stmt);
}

void
SqliteSink::ForgetRowTime(const SqliteTable &table, const std::vector<Column> &row) {
	ColumnRefs key = KeyRefs(table, row);
	if (key.empty())
		return;
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "forget-row-time", table, {}), [&] {
		return "DELETE FROM _mosta_row_times WHERE tbl = ?1 AND key = " +
			   KeyTextSql(Shape(table), ParameterList(2, key.size()));
	});
	BindText(db_.get(), stmt, 1, table.name);
	for (std::size_t i = 0; i < key.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 2), key[i]->value, KindOf(table, key[i]->name),
						key[i]->name);
	RunSql(db_.get(), stmt);
}

SqliteSink::Probe
SqliteSink::ProbeRow(const SqliteTable &table, const std::vector<Column> &key_row, const std::vector<Column> *compare) {
	ColumnRefs key = KeyRefs(table, key_row);
	if (key.empty())
		throw std::runtime_error("cannot check a change of " + table.quoted +
								 " for conflicts: a key column is missing");
	static const std::vector<Column> none;
	const std::vector<Column> &compared = compare != nullptr ? *compare : none;
	int first_compare = 2 + static_cast<int>(key.size());
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "probe", table, compared, key), [&] {
		const CaptureShape &shape = Shape(table);
		ConcatSql row;
		AppendRowJson(row, shape, "");
		std::vector<std::string> stored_key;
		for (const std::string &column : shape.primary_key)
			stored_key.push_back(QuoteIdentifier(column));
		std::string equal = compared.empty() ? "0" : "(" + Conditions(Refs(compared), first_compare, "IS") + ")";
		return "SELECT " + row.Sql() +
			   ", (SELECT at FROM _mosta_row_times WHERE tbl = ?1 AND key = " + KeyTextSql(shape, stored_key) + "), " +
			   equal + " FROM " + table.quoted + " WHERE " + Conditions(key, 2, "=");
	});
	BindText(db_.get(), stmt, 1, table.name);
	for (std::size_t i = 0; i < key.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 2), key[i]->value, KindOf(table, key[i]->name),
						key[i]->name);
	for (std::size_t i = 0; i < compared.size(); ++i)
		BindSqliteValue(db_.get(), stmt, first_compare + static_cast<int>(i), compared[i].value,
						KindOf(table, compared[i].name), compared[i].name);
	Probe probe;
	try {
		if (StepSql(db_.get(), stmt)) {
			probe.exists = true;
			probe.local_json = ColumnText(stmt, 0);
			probe.local_time = ColumnText(stmt, 1);
			probe.equal = sqlite3_column_int(stmt, 2) != 0;
		}
	} catch (...) {
		sqlite3_reset(stmt);
		throw;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return probe;
}

bool
SqliteSink::Resolve(ConflictKind kind, const SqliteTable &table, const Change &change, const Probe &probe,
					const std::vector<Column> &key_row, const std::vector<Column> &incoming) {
	ConflictRecord record;
	record.kind = kind;
	record.incoming_side = options_.incoming_side;
	record.schema = change.Schema();
	record.table = change.Table();
	record.key_json = ObjectJson(KeyRefs(table, key_row));
	if (probe.exists)
		record.local_json = probe.local_json;
	record.incoming_json = ObjectJson(Refs(incoming));
	record.local_time = probe.local_time;
	record.incoming_time = commit_time_;
	record.incoming_commit_lsn = SourceCommitLsn();
	record.change_index = change_index_;
	Resolution resolution = options_.on_conflict(record);
	if (resolution == Resolution::Fail)
		throw ConflictError(DescribeConflict(record));
	return resolution == Resolution::ApplyIncoming;
}

void
SqliteSink::DeleteByKey(const SqliteTable &table, const std::vector<Column> &key_row) {
	ColumnRefs key = KeyRefs(table, key_row);
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "delete-key", table, {}, key),
								   [&] { return "DELETE FROM " + table.quoted + " WHERE " + Conditions(key, 1, "="); });
	for (std::size_t i = 0; i < key.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 1), key[i]->value, KindOf(table, key[i]->name),
						key[i]->name);
	RunSql(db_.get(), stmt);
	ForgetRowTime(table, key_row);
}

// InsertChecked inserts when the key is free; a row equal to "new" is left as it is; another row is a conflict.
void
SqliteSink::InsertChecked(const SqliteTable &table, const Change &change) {
	Probe probe = ProbeRow(table, change.new_row, &change.new_row);
	if (probe.exists &&
		(probe.equal || !Resolve(ConflictKind::InsertExists, table, change, probe, change.new_row, change.new_row)))
		return;
	ApplyUpsert(table, change.new_row);
	NoteRowTime(table, change.new_row);
}

// UpdateChecked updates the row that still equals "old"; else probes the old key (see sqlite_sink.hpp).
void
SqliteSink::UpdateChecked(const SqliteTable &table, const Change &change) {
	bool moved = false;
	std::vector<Column> key_row = KeyRow(table, change, moved);
	ColumnRefs where = change.has_old ? Refs(change.old_row) : KeyRefs(table, key_row);
	const std::vector<Column> &row = change.new_row;
	int first_where = static_cast<int>(row.size()) + 1;
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "update-checked", table, row, where), [&] {
		return "UPDATE OR REPLACE " + table.quoted + " SET " + Assignments(row) + " WHERE " +
			   Conditions(where, first_where, change.has_old ? "IS" : "=");
	});
	for (std::size_t i = 0; i < row.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 1), row[i].value, KindOf(table, row[i].name),
						row[i].name);
	for (std::size_t i = 0; i < where.size(); ++i)
		BindSqliteValue(db_.get(), stmt, first_where + static_cast<int>(i), where[i]->value,
						KindOf(table, where[i]->name), where[i]->name);
	RunSql(db_.get(), stmt);
	if (sqlite3_changes(db_.get()) > 0) {
		if (moved)
			ForgetRowTime(table, key_row);
		NoteRowTime(table, row);
		return;
	}
	Probe probe = ProbeRow(table, key_row, &row);
	if (probe.exists && probe.equal)
		return;
	if (!probe.exists && moved) {
		Probe at_new_key = ProbeRow(table, row, &row);
		if (at_new_key.exists && at_new_key.equal)
			return; // the move was applied already
	}
	ConflictKind kind = probe.exists ? ConflictKind::UpdateDiffers : ConflictKind::UpdateMissing;
	if (!Resolve(kind, table, change, probe, key_row, row))
		return;
	if (moved && probe.exists)
		DeleteByKey(table, key_row);
	ApplyUpsert(table, WithUnchangedFromOld(change));
	NoteRowTime(table, row);
}

// DeleteChecked deletes the row that still equals "old"; a row that differs is a conflict, a missing one is not.
void
SqliteSink::DeleteChecked(const SqliteTable &table, const Change &change) {
	if (!change.has_old)
		ThrowMissingOld(change);
	ColumnRefs where = Refs(change.old_row);
	sqlite3_stmt *stmt = Statement(CacheKey(key_buffer_, "delete-checked", table, {}, where), [&] {
		return "DELETE FROM " + table.quoted + " WHERE " + Conditions(where, 1, "IS");
	});
	for (std::size_t i = 0; i < where.size(); ++i)
		BindSqliteValue(db_.get(), stmt, static_cast<int>(i + 1), where[i]->value, KindOf(table, where[i]->name),
						where[i]->name);
	RunSql(db_.get(), stmt);
	if (sqlite3_changes(db_.get()) > 0) {
		ForgetRowTime(table, change.old_row);
		return;
	}
	Probe probe = ProbeRow(table, change.old_row, nullptr);
	if (!probe.exists || !Resolve(ConflictKind::DeleteDiffers, table, change, probe, change.old_row, change.old_row))
		return;
	DeleteByKey(table, change.old_row);
}

} // namespace mosta::sidecar
