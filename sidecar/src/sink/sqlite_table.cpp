/*
 * sqlite_table.cpp
 *     Table naming, the PostgreSQL -> SQLite type mapping, and table creation / ADD COLUMN / metadata loading for
 *     the SQLite sink (see sqlite_table.hpp for the rules).
 */
#include "sink/sqlite_table.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>

#include "mosta/common/hex.hpp"
#include "mosta/common/identifiers.hpp"
#include "mosta/common/pg_types.hpp"
#include "sink/sqlite_db.hpp"

namespace mosta::sidecar {

namespace {

// Names under which SQLite exposes the rowid, in the order the sink tries them.
constexpr std::array<std::string_view, 3> kRowidNames = {"rowid", "_rowid_", "oid"};

// EqualsIgnoringAsciiCase compares two names as SQLite compares column names.
bool
EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
	return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
		auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
		return lower(x) == lower(y);
	});
}

// FreeRowidName returns the first rowid alias that no column shadows, or "".
std::string
FreeRowidName(const std::map<std::string, ColumnKind, std::less<>> &kinds) {
	for (std::string_view candidate : kRowidNames) {
		bool shadowed = std::any_of(kinds.begin(), kinds.end(), [&](const auto &column) {
			return EqualsIgnoringAsciiCase(column.first, candidate);
		});
		if (!shadowed)
			return std::string(candidate);
	}
	return {};
}

// TypedColumns returns the columns of change's relation (with their types; none without a relation).
const std::vector<RelationColumn> &
TypedColumns(const Change &change) {
	static const std::vector<RelationColumn> none;
	return change.relation ? change.relation->columns : none;
}

// ColumnNames lists the columns change carries, in document order: new, old, key, unchanged, then types.
std::vector<std::string>
ColumnNames(const Change &change) {
	std::vector<std::string> names;
	std::set<std::string_view> seen;
	auto add = [&](std::string_view name) {
		if (seen.insert(name).second)
			names.emplace_back(name);
	};
	for (const Column &column : change.new_row)
		add(column.name);
	for (const Column &column : change.old_row)
		add(column.name);
	for (const std::string &name : change.Key())
		add(name);
	for (std::string_view name : change.unchanged)
		add(name);
	for (const RelationColumn &column : TypedColumns(change))
		add(column.name);
	return names;
}

// DeclaredTypeOf returns the SQLite declared type of column name in change ("" without a type).
std::string
DeclaredTypeOf(const Change &change, const std::string &name) {
	std::string_view type = change.TypeOf(name);
	return type.empty() ? std::string() : SqliteDeclaredType(std::string(type));
}

// ShapeCount returns how many names a change's shape lists (see SqliteTable::checked_shape).
std::size_t
ShapeCount(const Change &change) {
	return change.new_row.size() + change.old_row.size() + change.unchanged.size() + TypedColumns(change).size();
}

// HasShape tells whether shape lists exactly the column names of change, in the order of SqliteTable::checked_shape.
bool
HasShape(const std::vector<std::string> &shape, const Change &change) {
	if (shape.size() != ShapeCount(change))
		return false;
	auto name = shape.begin();
	for (const Column &column : change.new_row)
		if (*name++ != column.name)
			return false;
	for (const Column &column : change.old_row)
		if (*name++ != column.name)
			return false;
	for (std::string_view unchanged : change.unchanged)
		if (*name++ != unchanged)
			return false;
	for (const RelationColumn &column : TypedColumns(change))
		if (*name++ != column.name)
			return false;
	return true;
}

// RememberShape stores change's column names in shape.
void
RememberShape(std::vector<std::string> &shape, const Change &change) {
	shape.clear();
	shape.reserve(ShapeCount(change));
	for (const Column &column : change.new_row)
		shape.emplace_back(column.name);
	for (const Column &column : change.old_row)
		shape.emplace_back(column.name);
	for (std::string_view unchanged : change.unchanged)
		shape.emplace_back(unchanged);
	for (const RelationColumn &column : TypedColumns(change))
		shape.push_back(column.name);
}

// ColumnDefinition returns "quoted-name [TYPE]".
std::string
ColumnDefinition(const std::string &name, const std::string &declared) {
	return declared.empty() ? QuoteIdentifier(name) : QuoteIdentifier(name) + " " + declared;
}

} // namespace

// SqliteTableName escapes the schema part so that the first unescaped dot separates schema and table.
std::string
SqliteTableName(std::string_view schema, std::string_view table) {
	std::string name;
	name.reserve(schema.size() + table.size() + 1);
	for (char c : schema) {
		if (c == '\\' || c == '.')
			name += '\\';
		name += c;
	}
	name += '.';
	name += table;
	return name;
}

// SplitSqliteTableName reads the schema part up to the first unescaped dot, dropping the escapes.
std::optional<TableName>
SplitSqliteTableName(std::string_view name) {
	std::string schema;
	for (std::size_t i = 0; i < name.size(); ++i) {
		if (name[i] == '\\' && i + 1 < name.size()) {
			schema += name[++i];
		} else if (name[i] == '.') {
			return TableName{std::move(schema), std::string(name.substr(i + 1))};
		} else {
			schema += name[i];
		}
	}
	return std::nullopt;
}

// SqliteDeclaredType reads the type table (mosta/common/pg_types.hpp); arrays are TEXT whatever their elements.
std::string
SqliteDeclaredType(std::string_view pg_type) {
	PgColumnType type = ClassifyPgType(pg_type);
	if (type.dims > 0)
		return "TEXT";
	return std::string(SqliteDeclaredTypeName(type.info->sqlite));
}

// KindOfDeclaredType recognizes the four declared types the sink writes.
ColumnKind
KindOfDeclaredType(std::string_view declared) {
	if (EqualsIgnoringAsciiCase(declared, "INTEGER"))
		return ColumnKind::Integer;
	if (EqualsIgnoringAsciiCase(declared, "REAL"))
		return ColumnKind::Real;
	if (EqualsIgnoringAsciiCase(declared, "TEXT"))
		return ColumnKind::Text;
	if (EqualsIgnoringAsciiCase(declared, "BLOB"))
		return ColumnKind::Blob;
	return ColumnKind::Untyped;
}

// DecodeByteaHex checks the "\x" prefix and decodes pairs of hex digits.
std::optional<std::string>
DecodeByteaHex(std::string_view text) {
	if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
		return std::nullopt;
	std::string bytes;
	bytes.reserve((text.size() - 2) / 2);
	for (std::size_t i = 2; i < text.size(); i += 2) {
		int high = mosta::HexDigitValue(text[i]);
		int low = mosta::HexDigitValue(text[i + 1]);
		if (high < 0 || low < 0)
			return std::nullopt;
		bytes += static_cast<char>((high << 4) | low);
	}
	return bytes;
}

// LoadSqliteTable queries pragma_table_info for the columns, their declared types and the key positions.
std::optional<SqliteTable>
LoadSqliteTable(sqlite3 *db, const std::string &name) {
	SqliteStmtHandle stmt = PrepareSql(db, "SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid");
	BindText(db, stmt.get(), 1, name);
	SqliteTable table{name, QuoteIdentifier(name), {}, {}, {}, {}};
	std::vector<std::pair<int, std::string>> key_positions;
	while (StepSql(db, stmt.get())) {
		std::string column = ColumnText(stmt.get(), 0);
		table.kinds[column] = KindOfDeclaredType(ColumnText(stmt.get(), 1));
		if (int position = sqlite3_column_int(stmt.get(), 2); position > 0)
			key_positions.emplace_back(position, column);
	}
	if (table.kinds.empty())
		return std::nullopt;
	std::sort(key_positions.begin(), key_positions.end());
	for (auto &[position, column] : key_positions)
		table.primary_key.push_back(std::move(column));
	table.rowid = FreeRowidName(table.kinds);
	return table;
}

// CreateSqliteTable builds and runs CREATE TABLE with typed columns and the document's key as PRIMARY KEY.
SqliteTable
CreateSqliteTable(sqlite3 *db, const std::string &name, const Change &change) {
	std::vector<std::string> columns = ColumnNames(change);
	if (columns.empty())
		throw std::runtime_error("cannot create SQLite table " + QuoteIdentifier(name) +
								 ": the document names no column");
	SqliteTable table{name, QuoteIdentifier(name), change.Key(), {}, {}, {}};
	std::string sql = "CREATE TABLE " + table.quoted + " (";
	for (const std::string &column : columns) {
		std::string declared = DeclaredTypeOf(change, column);
		if (column != columns.front())
			sql += ", ";
		sql += ColumnDefinition(column, declared);
		table.kinds[column] = KindOfDeclaredType(declared);
	}
	if (!change.Key().empty()) {
		sql += ", PRIMARY KEY (";
		for (std::size_t i = 0; i < change.Key().size(); ++i)
			sql += (i == 0 ? "" : ", ") + QuoteIdentifier(change.Key()[i]);
		sql += ")";
	}
	sql += ")";
	ExecSql(db, sql);
	table.rowid = FreeRowidName(table.kinds);
	return table;
}

// AddMissingColumns adds, in document order, each column the table does not have yet; a change shaped like the
// last one checked has none missing (columns are only ever added to a SqliteTable).
ShapeCheck
AddMissingColumns(sqlite3 *db, SqliteTable &table, const Change &change) {
	if (HasShape(table.checked_shape, change))
		return {};
	auto missing = [&](std::string_view column) { return table.kinds.find(column) == table.kinds.end(); };
	bool any_missing = std::any_of(change.new_row.begin(), change.new_row.end(),
								   [&](const Column &column) { return missing(column.name); }) ||
					   std::any_of(change.old_row.begin(), change.old_row.end(),
								   [&](const Column &column) { return missing(column.name); }) ||
					   std::any_of(change.unchanged.begin(), change.unchanged.end(), missing) ||
					   std::any_of(TypedColumns(change).begin(), TypedColumns(change).end(),
								   [&](const RelationColumn &column) { return missing(column.name); });
	if (!any_missing) {
		RememberShape(table.checked_shape, change);
		return {true, false};
	}
	for (const std::string &column : ColumnNames(change)) {
		if (!missing(column))
			continue;
		std::string declared = DeclaredTypeOf(change, column);
		ExecSql(db, "ALTER TABLE " + table.quoted + " ADD COLUMN " + ColumnDefinition(column, declared));
		table.kinds[column] = KindOfDeclaredType(declared);
	}
	table.rowid = FreeRowidName(table.kinds);
	return {true, true};
}

} // namespace mosta::sidecar
