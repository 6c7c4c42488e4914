/*
 * pg_conflict.cpp
 *     Conflict mode of the PostgreSQL sink (a bidirectional side: options.on_conflict set). Each row change is
 *     applied alone and checked against the row the target holds, by value (bidir/conflict.hpp):
 *       insert  INSERT ... ON CONFLICT DO NOTHING; no row inserted: the row with the key is read, equal to the
 *               incoming row: nothing to do, else insert_exists;
 *       update  UPDATE ... WHERE key = old key AND every column of the old image IS NOT DISTINCT FROM the row's;
 *               no row updated: the row with the old key is read: none: update_missing; equal to the new image:
 *               nothing to do; else update_differs;
 *       delete  DELETE ... WHERE the same condition; no row deleted: none with the old key: nothing to do (both
 *               sides want it gone), else delete_differs.
 *     Values are compared as the text of the typed value (column::text against ($n::type)::text), so types
 *     without an equality operator (json, point) compare too, and floats, timestamps and the rest by their
 *     canonical output under the session settings. A conflict is described in a ConflictRecord and handed to
 *     the handler; its Resolution applies the incoming change (an upsert by key, an update by the old key, a
 *     delete), keeps the local row, or throws ConflictError. Updates and deletes need the full old image
 *     (REPLICA IDENTITY FULL on the side that wrote them): one that lacks a column throws, naming the fix.
 *     A table without a key has no conflicts to detect beyond a missing row: its updates and deletes find one row
 *     equal to the old image, as in bulk mode.
 */
#include <stdexcept>

#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/pg_sink_impl.hpp"

namespace mosta::sidecar {

namespace {

// What the target holds for a key.
struct LocalRow {
	bool exists = false;
	bool equal = false;		 // equal to the image compared with
	std::string json;		 // the row in the documents' encoding ("" when none)
	std::string commit_time; // ISO 8601, "" when unknown
};

// ConflictTarget is one change being applied in conflict mode.
class ConflictTarget {
  public:
	ConflictTarget(PgSink::Impl &impl, const PgTargetTable &table) : impl_(impl), table_(table) {}

	// Equality returns "c::text IS NOT DISTINCT FROM ($n::type)::text AND ..." for the columns of row.
	std::string
	Equality(const std::vector<Column> &row, Params &params, const char *alias = "") {
		std::string sql;
		for (const Column &column : row)
			sql += (sql.empty() ? "" : " AND ") + std::string(alias) + QuoteIdentifier(column.name) +
				   "::text IS NOT DISTINCT FROM (" + params.Add(impl_.writer, column, TypeIn(table_, column.name)) +
				   ")::text";
		return sql.empty() ? "true" : sql;
	}

	// KeyMatch returns "k = $n::type AND ..." for the key values.
	std::string
	KeyMatch(const std::vector<const Column *> &key, Params &params) {
		std::string sql;
		for (const Column *column : key)
			sql += (sql.empty() ? "" : " AND ") + QuoteIdentifier(column->name) + " = " +
				   params.Add(impl_.writer, *column, TypeIn(table_, column->name));
		return sql;
	}

	// Assignments returns "c = $n::type, ..." for the columns of row.
	std::string
	Assignments(const std::vector<Column> &row, Params &params) {
		std::string sql;
		for (const Column &column : row)
			sql += (sql.empty() ? "" : ", ") + QuoteIdentifier(column.name) + " = " +
				   params.Add(impl_.writer, column, TypeIn(table_, column.name));
		return sql;
	}

	// Run executes sql and returns the number of rows it touched.
	long
	Run(const std::string &sql, const Params &params, const char *doing) {
		PgResultHandle result = impl_.session->Query(sql, params.Values(), std::string(doing) + " " + table_.quoted);
		return Affected(result.get());
	}

	// Read returns the row with key, compared with image.
	LocalRow
	Read(const std::vector<const Column *> &key, const std::vector<Column> &image) {
		Params params;
		std::string select;
		for (const std::string &column : table_.columns)
			select += QuoteIdentifier(column) + ", "; // the output function's text
		select += impl_.commit_timestamps ? "pg_xact_commit_timestamp(xmin)::text, " : "NULL::text, ";
		std::string where = KeyMatch(key, params);
		select += '('; // appended piecewise: "(" + std::string trips GCC 12's -Wrestrict
		select += Equality(image, params);
		select += ')';
		PgResultHandle result =
			impl_.session->Query("SELECT " + select + " FROM " + table_.quoted + " WHERE " + where + " LIMIT 1",
								 params.Values(), "reading the local row of " + table_.quoted);
		LocalRow local;
		if (PQntuples(result.get()) == 0)
			return local;
		local.exists = true;
		int columns = static_cast<int>(table_.columns.size());
		local.equal = std::string_view(PQgetvalue(result.get(), 0, columns + 1)) == "t";
		local.json = "{";
		for (int i = 0; i < columns; ++i) {
			if (i > 0)
				local.json += ',';
			AppendJsonQuoted(local.json, table_.columns[i]);
			local.json += ':';
			if (PQgetisnull(result.get(), 0, i)) {
				local.json += "null";
				continue;
			}
			std::string_view text = PQgetvalue(result.get(), 0, i);
			try {
				std::string value;
				AppendPgTextAsJson(value, text, table_.types[i]);
				local.json += value;
			} catch (const PgValueError &) {
				AppendJsonQuoted(local.json, text);
			}
		}
		local.json += '}';
		if (!PQgetisnull(result.get(), 0, columns)) {
			PgValuePlan plan;
			plan.conversion = PgValueConversion::Timestamptz;
			PgValueScratch scratch;
			try {
				AppendPgValue(local.commit_time, PQgetvalue(result.get(), 0, columns), plan, PgValueForm::Canonical,
							  scratch);
			} catch (const PgValueError &) {
				local.commit_time = PQgetvalue(result.get(), 0, columns);
			}
		}
		return local;
	}

	// Decide describes the conflict to the handler and returns its decision (Fail throws ConflictError).
	Resolution
	Decide(ConflictKind kind, const std::vector<Column> &key_row, const std::vector<std::string> &key,
		   const LocalRow &local, const std::vector<Column> &incoming, int index) {
		ConflictRecord record;
		record.kind = kind;
		record.incoming_side = impl_.options.incoming_side;
		record.schema = table_.schema;
		record.table = table_.table;
		record.key_json = KeyJson(key_row, key);
		record.local_json = local.exists ? local.json : std::string();
		record.incoming_json = RowJson(incoming);
		record.local_time = local.commit_time;
		record.incoming_time = impl_.commit_time;
		record.incoming_commit_lsn = impl_.commit_lsn;
		record.change_index = index;
		Resolution resolution = impl_.options.on_conflict(record);
		if (resolution == Resolution::Fail)
			throw ConflictError(DescribeConflict(record));
		return resolution;
	}

	// Upsert writes row: INSERT, or UPDATE of the row with its key.
	void
	Upsert(const std::vector<Column> &row, const std::vector<std::string> &key) {
		Params params;
		std::string names, values;
		for (const Column &column : row) {
			names += (names.empty() ? "" : ", ") + QuoteIdentifier(column.name);
			values += (values.empty() ? "" : ", ") + params.Add(impl_.writer, column, TypeIn(table_, column.name));
		}
		std::string set;
		for (const Column &column : row)
			set += (set.empty() ? "" : ", ") + QuoteIdentifier(column.name) + " = EXCLUDED." +
				   QuoteIdentifier(column.name);
		Run("INSERT INTO " + table_.quoted + " (" + names + ") VALUES (" + values + ") ON CONFLICT (" +
				ColumnList(key) + ") DO UPDATE SET " + set,
			params, "writing into");
	}

  private:
	PgSink::Impl &impl_;
	const PgTargetTable &table_;
};

// RequireFullOld throws unless change carries every column of its table in "old".
void
RequireFullOld(const Change &change) {
	bool full = change.has_old && change.relation != nullptr;
	if (full)
		for (const RelationColumn &column : change.relation->columns)
			if (FindColumn(change.old_row, column.name) == nullptr) {
				full = false;
				break;
			}
	if (!full)
		throw std::runtime_error(
			"PostgreSQL sink: " + std::string(OpName(change.op)) + " of " + change.Schema() + "." + change.Table() +
			" carries no full old row, which conflict detection needs; run ALTER TABLE " +
			QuoteQualifiedName(change.Schema(), change.Table()) + " REPLICA IDENTITY FULL on the side that wrote it");
}

// WithUnchanged returns new_row plus the "unchanged" columns from "old".
std::vector<Column>
WithUnchanged(const Change &change) {
	std::vector<Column> row;
	row.reserve(change.new_row.size() + change.unchanged.size());
	for (const Column &column : change.new_row)
		row.push_back(column);
	for (std::string_view name : change.unchanged)
		if (const Column *old_column = FindColumn(change.old_row, name); old_column && !FindColumn(row, name))
			row.push_back(*old_column);
	return row;
}

// KeyColumns returns the columns of row named in key (throws ThrowMissingOld when one is absent).
std::vector<const Column *>
KeyColumns(const Change &change, const std::vector<Column> &row, const std::vector<std::string> &key) {
	std::vector<const Column *> columns;
	for (const std::string &name : key) {
		const Column *column = FindColumn(row, name);
		if (column == nullptr)
			ThrowMissingOld(change);
		columns.push_back(column);
	}
	return columns;
}

} // namespace

void
PgSink::Impl::ApplyChecked(const Change &change, int index) {
	PgTargetTable *table = Table(change.Schema(), change.Table(), change.relation.get());
	Begin();
	std::vector<std::string> key = KeyOf(change);
	if (key.empty())
		key = table->primary_key;
	if (key.empty()) {
		ApplyBulk(change); // no key: nothing to tell a conflict by; alone, by the whole old image
		FlushRun();
		return;
	}
	ConflictTarget target(*this, *table);
	if (change.op == Op::Insert) {
		Params params;
		std::string names, values;
		for (const Column &column : change.new_row) {
			names += (names.empty() ? "" : ", ") + QuoteIdentifier(column.name);
			values += (values.empty() ? "" : ", ") + params.Add(writer, column, TypeIn(*table, column.name));
		}
		if (target.Run("INSERT INTO " + table->quoted + " (" + names + ") VALUES (" + values +
						   ") ON CONFLICT DO NOTHING",
					   params, "inserting into") == 1)
			return;
		std::vector<const Column *> new_key = KeyColumns(change, change.new_row, key);
		LocalRow local = target.Read(new_key, change.new_row);
		if (local.equal)
			return;
		if (target.Decide(ConflictKind::InsertExists, change.new_row, key, local, change.new_row, index) ==
			Resolution::ApplyIncoming)
			target.Upsert(change.new_row, key);
		return;
	}
	RequireFullOld(change);
	std::vector<const Column *> old_key = KeyColumns(change, change.old_row, key);
	if (change.op == Op::Update) {
		std::vector<Column> row = WithUnchanged(change);
		Params params;
		std::string set = target.Assignments(row, params);
		std::string where = target.KeyMatch(old_key, params) + " AND " + target.Equality(change.old_row, params);
		if (target.Run("UPDATE " + table->quoted + " SET " + set + " WHERE " + where, params, "updating") == 1)
			return;
		LocalRow local = target.Read(old_key, row);
		if (local.equal)
			return;
		ConflictKind kind = local.exists ? ConflictKind::UpdateDiffers : ConflictKind::UpdateMissing;
		if (target.Decide(kind, change.old_row, key, local, row, index) != Resolution::ApplyIncoming)
			return;
		if (!local.exists) {
			target.Upsert(row, key);
			return;
		}
		Params apply;
		std::string apply_set = target.Assignments(row, apply);
		target.Run("UPDATE " + table->quoted + " SET " + apply_set + " WHERE " + target.KeyMatch(old_key, apply), apply,
				   "updating");
		return;
	}
	Params params;
	std::string where = target.KeyMatch(old_key, params) + " AND " + target.Equality(change.old_row, params);
	if (target.Run("DELETE FROM " + table->quoted + " WHERE " + where, params, "deleting from") == 1)
		return;
	LocalRow local = target.Read(old_key, change.old_row);
	if (!local.exists)
		return;
	if (target.Decide(ConflictKind::DeleteDiffers, change.old_row, key, local, change.old_row, index) !=
		Resolution::ApplyIncoming)
		return;
	Params apply;
	target.Run("DELETE FROM " + table->quoted + " WHERE " + target.KeyMatch(old_key, apply), apply, "deleting from");
}

} // namespace mosta::sidecar
