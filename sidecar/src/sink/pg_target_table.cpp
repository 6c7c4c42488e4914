/*
 * pg_target_table.cpp
 *     The target's tables (see pg_target_table.hpp).
 */
#include "sink/pg_target_table.hpp"

#include <algorithm>

#include "mosta/common/identifiers.hpp"
#include "sink/pg_row_text.hpp"
#include "sink/sink.hpp"

namespace mosta::sidecar {

namespace {

constexpr const char *kColumnsSql =
	"SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
	"WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

constexpr const char *kPrimaryKeySql =
	"SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
	"JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
	"WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.n";

// ColumnDefinition returns "name type [NOT NULL]".
std::string
ColumnDefinition(std::string_view name, std::string_view type, bool nullable) {
	return QuoteIdentifier(name) + " " + std::string(type.empty() ? "text" : type) + (nullable ? "" : " NOT NULL");
}

// CreateSql returns the CREATE SCHEMA IF NOT EXISTS + CREATE TABLE of schema.table, with REPLICA IDENTITY FULL when
// full_identity (the source table's: a bidirectional side then gives full old images as the source does).
std::string
CreateSql(const std::string &schema, const std::string &table, const std::vector<std::string> &definitions,
		  const std::vector<std::string> &key, bool full_identity) {
	std::string sql = "CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(schema) + "; CREATE TABLE " +
					  QuoteQualifiedName(schema, table) + " (";
	for (std::size_t i = 0; i < definitions.size(); ++i)
		sql += (i == 0 ? "" : ", ") + definitions[i];
	if (!key.empty()) {
		sql += ", PRIMARY KEY (";
		for (std::size_t i = 0; i < key.size(); ++i)
			sql += (i == 0 ? "" : ", ") + QuoteIdentifier(key[i]);
		sql += ")";
	}
	sql += ")";
	if (full_identity)
		sql += "; ALTER TABLE " + QuoteQualifiedName(schema, table) + " REPLICA IDENTITY FULL";
	return sql;
}

// Loaded returns the table just created or altered.
PgTargetTable
Loaded(PgSession &session, const std::string &schema, const std::string &table) {
	std::optional<PgTargetTable> loaded = LoadPgTargetTable(session, schema, table);
	if (!loaded)
		throw std::runtime_error("PostgreSQL sink: " + QuoteQualifiedName(schema, table) + " vanished in " +
								 session.Described());
	return std::move(*loaded);
}

} // namespace

std::string_view
PgTargetTable::TypeOf(std::string_view name) const noexcept {
	for (std::size_t i = 0; i < columns.size(); ++i)
		if (columns[i] == name)
			return types[i];
	return {};
}

std::optional<PgTargetTable>
LoadPgTargetTable(PgSession &session, const std::string &schema, const std::string &table) {
	std::string quoted = QuoteQualifiedName(schema, table);
	PgResultHandle columns = session.Query(kColumnsSql, {quoted.c_str()}, "reading the columns of " + quoted);
	if (PQntuples(columns.get()) == 0)
		return std::nullopt;
	PgTargetTable loaded;
	loaded.schema = schema;
	loaded.table = table;
	loaded.quoted = quoted;
	for (int row = 0; row < PQntuples(columns.get()); ++row) {
		loaded.columns.emplace_back(PQgetvalue(columns.get(), row, 0));
		loaded.types.emplace_back(PQgetvalue(columns.get(), row, 1));
	}
	PgResultHandle key = session.Query(kPrimaryKeySql, {quoted.c_str()}, "reading the primary key of " + quoted);
	for (int row = 0; row < PQntuples(key.get()); ++row)
		loaded.primary_key.emplace_back(PQgetvalue(key.get(), row, 0));
	return loaded;
}

PgTargetTable
CreatePgTargetTable(PgSession &session, const DdlMessage &shape) {
	std::vector<std::string> definitions;
	for (const DdlColumn &column : shape.columns)
		definitions.push_back(ColumnDefinition(column.name, column.type, column.nullable));
	std::string quoted = QuoteQualifiedName(shape.schema, shape.table);
	session.Exec(CreateSql(shape.schema, shape.table, definitions, shape.key, shape.replica_identity == "full"),
				 "creating " + quoted);
	return Loaded(session, shape.schema, shape.table);
}

PgTargetTable
CreatePgTargetTableFromRelation(PgSession &session, const RelationSchema &relation) {
	std::vector<std::string> definitions;
	for (const RelationColumn &column : relation.columns)
		definitions.push_back(ColumnDefinition(column.name, column.type, true));
	std::string quoted = QuoteQualifiedName(relation.schema, relation.table);
	session.Exec(CreateSql(relation.schema, relation.table, definitions, relation.key,
						   relation.identity == ReplicaIdentity::Full),
				 "creating " + quoted);
	return Loaded(session, relation.schema, relation.table);
}

PgTargetTable
AlterPgTargetTable(PgSession &session, const PgTargetTable &held, const DdlMessage &message) {
	ColumnDiff diff = DiffColumns(held.columns, message.columns);
	if (NeedsRecopy(message, diff.added))
		throw RecopyNeeded("PostgreSQL target table " + held.quoted + ": " + message.schema + "." + message.table +
						   " was rewritten with new column values only the source holds (a volatile default)");
	std::string doing = "altering " + held.quoted;
	for (const auto &[from, to] : diff.renamed)
		session.Exec("ALTER TABLE " + held.quoted + " RENAME COLUMN " + QuoteIdentifier(from) + " TO " +
						 QuoteIdentifier(to),
					 doing);
	for (const std::string &column : diff.dropped)
		session.Exec("ALTER TABLE " + held.quoted + " DROP COLUMN " + QuoteIdentifier(column), doing);
	PgTargetTable renamed = Loaded(session, held.schema, held.table);
	for (const DdlColumn &column : message.columns) {
		std::string_view type = renamed.TypeOf(column.name);
		bool added = std::find(diff.added.begin(), diff.added.end(), column.name) != diff.added.end();
		if (added) {
			session.Exec("ALTER TABLE " + held.quoted + " ADD COLUMN " +
							 ColumnDefinition(column.name, column.type, true),
						 doing);
			if (column.fill && !IsNull(*column.fill)) {
				Column fill{column.name, *column.fill, nullptr};
				RelationColumn declared{column.name, column.type};
				declared.classified = ClassifyPgType(column.type);
				fill.declared = &declared;
				PgValueWriter writer;
				std::string text;
				writer.AppendText(text, fill);
				session.Query("UPDATE " + held.quoted + " SET " + QuoteIdentifier(column.name) +
								  " = $1::" + column.type,
							  {text.c_str()}, "filling the new column " + column.name + " of " + held.quoted);
			}
		} else if (!type.empty() && !column.type.empty() && type != column.type) {
			session.Exec("ALTER TABLE " + held.quoted + " ALTER COLUMN " + QuoteIdentifier(column.name) + " TYPE " +
							 column.type + " USING " + QuoteIdentifier(column.name) + "::text::" + column.type,
						 doing);
		}
	}
	return Loaded(session, held.schema, held.table);
}

} // namespace mosta::sidecar
