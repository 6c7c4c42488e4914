/*
 * sqlite_capture_sql.cpp
 *     Reading SQLite rows back as change-document values, in SQL (see sqlite_capture_sql.hpp).
 */
#include "sink/sqlite_capture_sql.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "mosta/common/canonical_row.hpp"
#include "mosta/common/identifiers.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar {

namespace {

// FallbackType returns the PostgreSQL type a column without a recorded type is read as.
std::string
FallbackType(ColumnKind kind) {
	switch (kind) {
	case ColumnKind::Integer:
		return "bigint";
	case ColumnKind::Real:
		return "double precision";
	case ColumnKind::Blob:
		return "bytea";
	case ColumnKind::Text:
	case ColumnKind::Untyped:
		break;
	}
	return "text";
}

// Replace returns pattern with every "@X" replaced by expr.
std::string
Replace(std::string_view pattern, std::string_view expr) {
	std::string out;
	for (std::size_t i = 0; i < pattern.size(); ++i) {
		if (pattern.compare(i, 2, "@X") == 0) {
			out += expr;
			++i;
		} else {
			out += pattern[i];
		}
	}
	return out;
}

// The JSON text of a REAL: infinities as strings, else the shortest of 15, 16 or 17 significant digits that reads
// back to the same double ("%!.17g": SQLite prints at most 16 digits without the '!' flag).
constexpr std::string_view kFloatJson =
	"CASE WHEN @X = 9e999 THEN '\"Infinity\"' WHEN @X = -9e999 THEN '\"-Infinity\"' "
	"WHEN CAST(printf('%.15g', @X) AS REAL) = @X THEN printf('%.15g', @X) "
	"WHEN CAST(printf('%.16g', @X) AS REAL) = @X THEN printf('%.16g', @X) ELSE printf('%!.17g', @X) END";

// GenericJson reads a value by its storage class (each piece replaced on its own: a name may contain "@X").
std::string
GenericJson(std::string_view expr) {
	return Replace("CASE typeof(@X) WHEN 'null' THEN 'null' WHEN 'integer' THEN CAST(@X AS TEXT) WHEN 'real' THEN (",
				   expr) +
		   Replace(kFloatJson, expr) +
		   Replace(") WHEN 'blob' THEN json_quote('\\x' || lower(hex(@X))) ELSE json_quote(@X) END", expr);
}

} // namespace

void
ConcatSql::Expr(const std::string &sql) {
	if (!pending_.empty())
		parts_.push_back(QuoteLiteral(pending_));
	pending_.clear();
	parts_.push_back("(" + sql + ")");
}

std::string
ConcatSql::Join(std::size_t first, std::size_t last) const {
	if (last - first == 1)
		return parts_[first];
	std::size_t middle = first + (last - first) / 2;
	return "(" + Join(first, middle) + " || " + Join(middle, last) + ")";
}

std::string
ConcatSql::Sql() {
	if (!pending_.empty() || parts_.empty())
		parts_.push_back(QuoteLiteral(pending_));
	pending_.clear();
	std::string sql = Join(0, parts_.size());
	parts_.clear();
	return sql;
}

std::optional<CaptureShape>
LoadCaptureShape(sqlite3 *db, const std::string &name) {
	std::optional<TableName> names = SplitSqliteTableName(name);
	if (!names)
		throw std::runtime_error("cannot capture SQLite table " + QuoteIdentifier(name) +
								 ": not a replicated table (its name is not \"schema.table\")");
	CaptureShape shape{name, names->schema, names->table, {}, {}};
	SqliteStmtHandle info = PrepareSql(db, "SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid");
	BindText(db, info.get(), 1, name);
	std::vector<std::pair<int, std::string>> key_positions;
	while (StepSql(db, info.get())) {
		CaptureColumn column;
		column.name = ColumnText(info.get(), 0);
		column.type = FallbackType(KindOfDeclaredType(ColumnText(info.get(), 1)));
		if (int position = sqlite3_column_int(info.get(), 2); position > 0)
			key_positions.emplace_back(position, column.name);
		shape.columns.push_back(std::move(column));
	}
	if (shape.columns.empty())
		return std::nullopt;
	std::sort(key_positions.begin(), key_positions.end());
	for (auto &[position, column] : key_positions)
		shape.primary_key.push_back(std::move(column));
	if (TableExists(db, kColumnTypesTable)) {
		SqliteStmtHandle types = PrepareSql(db, "SELECT col, type FROM _mosta_columns WHERE tbl = ?1");
		BindText(db, types.get(), 1, name);
		while (StepSql(db, types.get())) {
			std::string column = ColumnText(types.get(), 0);
			auto found = std::find_if(shape.columns.begin(), shape.columns.end(),
									  [&](const CaptureColumn &c) { return c.name == column; });
			if (found != shape.columns.end()) {
				found->type = ColumnText(types.get(), 1);
				found->recorded = true;
			}
		}
	}
	for (CaptureColumn &column : shape.columns)
		column.classified = ClassifyPgType(column.type);
	return shape;
}

std::string
ValueJsonSql(const CaptureColumn &column, std::string_view expr) {
	if (column.classified.dims > 0)
		return Replace("CASE WHEN typeof(@X) = 'text' AND json_valid(@X) THEN json(@X) ELSE (", expr) +
			   GenericJson(expr) + ") END";
	if (column.classified.info != nullptr && column.classified.info->kind == PgTypeKind::Bool)
		return Replace("CASE WHEN typeof(@X) = 'integer' THEN CASE WHEN @X THEN 'true' ELSE 'false' END ELSE (", expr) +
			   GenericJson(expr) + ") END";
	return GenericJson(expr);
}

void
AppendRowJson(ConcatSql &out, const CaptureShape &shape, std::string_view qualifier) {
	out.Text("{");
	for (std::size_t i = 0; i < shape.columns.size(); ++i) {
		const CaptureColumn &column = shape.columns[i];
		out.Text((i == 0 ? "" : ",") + JsonQuote(column.name) + ":");
		out.Expr(ValueJsonSql(column, std::string(qualifier) + QuoteIdentifier(column.name)));
	}
	out.Text("}");
}

std::string
KeyTextSql(const CaptureShape &shape, const std::vector<std::string> &exprs) {
	ConcatSql out;
	out.Text("[");
	for (std::size_t i = 0; i < shape.primary_key.size() && i < exprs.size(); ++i) {
		auto column = std::find_if(shape.columns.begin(), shape.columns.end(),
								   [&](const CaptureColumn &c) { return c.name == shape.primary_key[i]; });
		if (i > 0)
			out.Text(",");
		out.Expr(column == shape.columns.end() ? GenericJson(exprs[i]) : ValueJsonSql(*column, exprs[i]));
	}
	out.Text("]");
	return out.Sql();
}

std::string
TypesJson(const CaptureShape &shape) {
	std::string json = "{";
	for (const CaptureColumn &column : shape.columns) {
		if (json.size() > 1)
			json += ',';
		AppendJsonQuoted(json, column.name);
		json += ':';
		AppendJsonQuoted(json, column.type);
	}
	return json + "}";
}

bool
TableExists(sqlite3 *db, std::string_view name) {
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
	BindText(db, stmt.get(), 1, name);
	return StepSql(db, stmt.get());
}

void
EnsureColumnTypesTable(sqlite3 *db) {
	ExecSql(db, "CREATE TABLE IF NOT EXISTS _mosta_columns "
				"(tbl TEXT NOT NULL, col TEXT NOT NULL, type TEXT NOT NULL, PRIMARY KEY (tbl, col))");
}

void
EnsureCaptureTables(sqlite3 *db) {
	EnsureColumnTypesTable(db);
	ExecSql(db, "CREATE TABLE IF NOT EXISTS _mosta_changes "
				"(seq INTEGER PRIMARY KEY AUTOINCREMENT, document TEXT NOT NULL, at TEXT NOT NULL);"
				"CREATE TABLE IF NOT EXISTS _mosta_apply_guard (active INTEGER NOT NULL);"
				"INSERT INTO _mosta_apply_guard (active) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM _mosta_apply_guard);"
				"CREATE TABLE IF NOT EXISTS _mosta_row_times (tbl TEXT, key TEXT, at TEXT, PRIMARY KEY (tbl, key))");
}

bool
RecordColumnTypes(sqlite3 *db, const std::string &name, const Change &change, bool prune) {
	int changed = 0;
	if (change.relation) {
		SqliteStmtHandle upsert =
			PrepareSql(db, "INSERT INTO _mosta_columns (tbl, col, type) VALUES (?1, ?2, ?3) "
						   "ON CONFLICT (tbl, col) DO UPDATE SET type = excluded.type WHERE type IS NOT excluded.type");
		for (const RelationColumn &column : change.relation->columns) {
			if (column.type.empty())
				continue;
			BindText(db, upsert.get(), 1, name);
			BindText(db, upsert.get(), 2, column.name);
			BindText(db, upsert.get(), 3, column.type);
			RunSql(db, upsert.get());
			changed += sqlite3_changes(db);
		}
	}
	if (prune) {
		SqliteStmtHandle forget = PrepareSql(
			db, "DELETE FROM _mosta_columns WHERE tbl = ?1 AND col NOT IN (SELECT name FROM pragma_table_info(?1))");
		BindText(db, forget.get(), 1, name);
		RunSql(db, forget.get());
		changed += sqlite3_changes(db);
	}
	return changed > 0;
}

void
ForgetTable(sqlite3 *db, const std::string &name) {
	for (const char *table : {"_mosta_columns", "_mosta_row_times"}) {
		if (!TableExists(db, table))
			continue;
		SqliteStmtHandle stmt = PrepareSql(db, "DELETE FROM " + std::string(table) + " WHERE tbl = ?1");
		BindText(db, stmt.get(), 1, name);
		RunSql(db, stmt.get());
	}
}

void
DropCaptureTriggers(sqlite3 *db, const std::string &name) {
	SqliteStmtHandle list = PrepareSql(db, "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 "
										   "AND substr(name, 1, ?3) = ?2");
	BindText(db, list.get(), 1, name);
	BindText(db, list.get(), 2, kCaptureTriggerPrefix);
	BindInt64(db, list.get(), 3, static_cast<std::int64_t>(kCaptureTriggerPrefix.size()));
	std::vector<std::string> triggers;
	while (StepSql(db, list.get()))
		triggers.push_back(ColumnText(list.get(), 0));
	list.reset();
	for (const std::string &trigger : triggers)
		ExecSql(db, "DROP TRIGGER IF EXISTS " + QuoteIdentifier(trigger));
}

std::vector<std::string>
ReplicatedTables(sqlite3 *db) {
	SqliteStmtHandle list =
		PrepareSql(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_' "
					   "ORDER BY name");
	std::vector<std::string> names;
	while (StepSql(db, list.get())) {
		std::string name = ColumnText(list.get(), 0);
		if (SplitSqliteTableName(name))
			names.push_back(std::move(name));
	}
	return names;
}

void
AppendValueJson(std::string &out, const Value &value) {
	if (IsNull(value)) {
		out += "null";
	} else if (const bool *flag = std::get_if<bool>(&value)) {
		out += *flag ? "true" : "false";
	} else if (const std::int64_t *integer = std::get_if<std::int64_t>(&value)) {
		out += std::to_string(*integer);
	} else if (const double *number = std::get_if<double>(&value)) {
		char buffer[64];
		auto result = std::to_chars(buffer, buffer + sizeof buffer, *number);
		out.append(buffer, result.ptr);
	} else if (const std::string_view *text = std::get_if<std::string_view>(&value)) {
		AppendJsonQuoted(out, *text);
	} else {
		out += std::get<RawJson>(value).text;
	}
}

} // namespace mosta::sidecar
