/*
 * cmd_schema.cpp
 *     `mosta-migrate schema MAPPING [--apply --target CONNINFO]`: prints the target's DDL (schema_ddl.hpp), or
 *     applies it in one transaction. Every statement is idempotent, so applying twice changes nothing; a table that
 *     already existed must hold the mapping's columns (CREATE TABLE IF NOT EXISTS would otherwise keep a stale one
 *     silently): a missing column fails the run and rolls it back, a column of another type is reported on stderr.
 */
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>

#include "commands.hpp"
#include "mapping/mapping.hpp"
#include "mapping/mapping_names.hpp" // SameColumnType
#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"
#include "schema_ddl.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

namespace {

using mapping::CollectionMap;
using mapping::FieldKind;
using mapping::FieldMap;

// Expected maps each table of the mapping to its columns and their types; with_helpers: also the columns
// mosta_add_polymorphic_ref adds (it adds them to an existing table too).
std::map<std::string, std::map<std::string, std::string>>
Expected(const mapping::Mapping &mapping, bool with_helpers = true) {
	std::map<std::string, std::map<std::string, std::string>> tables;
	for (const CollectionMap &c : mapping.collections) {
		auto &columns = tables[c.table];
		columns[c.id_column] = "uuid";
		columns[c.legacy_id_column] = "text";
		columns[c.extra_column] = "jsonb";
		for (const FieldMap &field : c.fields)
			if (field.kind == FieldKind::Column || field.kind == FieldKind::Reference)
				columns[field.column] = field.type;
			else if (field.kind == FieldKind::Polymorphic && with_helpers) {
				columns[mapping::PolymorphicKindColumn(field.column)] = "text";
				columns[mapping::PolymorphicIdColumn(field.column)] = "uuid";
				columns[mapping::PolymorphicExternalColumn(field.column)] = "text";
			}
		for (const mapping::ChildMap &child : c.children) {
			auto &child_columns = tables[child.table];
			child_columns[child.parent_column] = "uuid";
			child_columns[child.position_column] = "integer";
			if (!child.extra_column.empty())
				child_columns[child.extra_column] = "jsonb";
			for (const FieldMap &field : child.fields)
				child_columns[field.column] = field.type;
		}
	}
	return tables;
}

// CheckTables compares the tables in the target with the mapping: before the DDL the tables that exist already
// (without the helpers' columns), after it all of them, so that a stale table fails with a clear message, not with
// the first helper that misses a column.
void
CheckTables(sidecar::PgSession &session, const mapping::Mapping &mapping, bool after) {
	for (const auto &[table, columns] : Expected(mapping, after)) {
		std::string qualified = QuoteQualifiedName(mapping.schema, table);
		if (!after) {
			sidecar::PgResultHandle exists = session.Query("SELECT pg_catalog.to_regclass($1) IS NULL",
														   {qualified.c_str()}, "looking for " + qualified);
			if (std::string(PQgetvalue(exists.get(), 0, 0)) == "t")
				continue;
		}
		sidecar::PgResultHandle result = session.Query(
			"SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
			"WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped",
			{qualified.c_str()}, "reading the columns of " + qualified);
		std::map<std::string, std::string> present;
		for (int row = 0; row < PQntuples(result.get()); ++row)
			present[PQgetvalue(result.get(), row, 0)] = PQgetvalue(result.get(), row, 1);
		std::string missing;
		for (const auto &[column, type] : columns) {
			auto found = present.find(column);
			if (found == present.end())
				missing += (missing.empty() ? "" : ", ") + column;
			else if (after && !mapping::SameColumnType(found->second, type))
				std::fprintf(stderr,
							 "mosta-migrate schema: warning: column %s of table %s is %s, the mapping says %s\n",
							 column.c_str(), qualified.c_str(), found->second.c_str(), type.c_str());
		}
		if (!missing.empty())
			throw std::runtime_error("table " + qualified + " already exists without the mapping's column(s) " +
									 missing +
									 "; nothing was applied: add them (ALTER TABLE ... ADD COLUMN), or drop "
									 "the table if it holds nothing yet, then run schema --apply again");
	}
}

std::size_t
ExistingTables(sidecar::PgSession &session, const mapping::Mapping &mapping) {
	std::size_t existing = 0;
	for (const auto &[table, columns] : Expected(mapping)) {
		std::string qualified = QuoteQualifiedName(mapping.schema, table);
		sidecar::PgResultHandle result = session.Query("SELECT pg_catalog.to_regclass($1) IS NOT NULL",
													   {qualified.c_str()}, "looking for " + qualified);
		existing += std::string(PQgetvalue(result.get(), 0, 0)) == "t" ? 1 : 0;
	}
	return existing;
}

void
Apply(const mapping::Mapping &mapping, const std::vector<std::string> &statements, const std::string &target) {
	sidecar::PgSession session(target);
	sidecar::PgResultHandle extension = session.Query(
		"SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'mostajs'", {}, "looking for mostajs");
	if (PQntuples(extension.get()) == 0)
		throw std::runtime_error("the mostajs extension is not installed in " + session.Described() +
								 "; run CREATE EXTENSION mostajs there first (as a superuser), then schema --apply");
	session.Exec("BEGIN", "starting the schema transaction");
	// the helpers' NOTICEs ("already declared") say nothing a second run needs to hear
	session.Exec("SET LOCAL client_min_messages = warning", "setting client_min_messages");
	std::size_t existing = ExistingTables(session, mapping);
	CheckTables(session, mapping, false);
	for (std::size_t i = 0; i < statements.size(); ++i) {
		const std::string &sql = statements[i];
		std::string first_line = sql.substr(0, sql.find('\n'));
		session.Exec(sql, "schema statement " + std::to_string(i + 1) + " (" + first_line + ")");
	}
	CheckTables(session, mapping, true);
	session.Exec("COMMIT", "committing the schema");
	std::size_t tables = Expected(mapping).size();
	std::printf("schema of mapping %s applied to %s: %zu statements, %zu tables (%zu created, %zu already there)\n",
				mapping.name.c_str(), session.Described().c_str(), statements.size(), tables, tables - existing,
				existing);
}

} // namespace

int
RunSchema(CommandLine &line) {
	const std::string &file = line.Positional(0, "MAPPING");
	bool apply = line.Flag("apply");
	std::optional<std::string> target = line.Option("target");
	line.Finish();
	if (apply && !target)
		throw UsageError("--apply needs --target CONNINFO (the PostgreSQL database to create the tables in)");
	if (!apply && target)
		throw UsageError("--target without --apply: add --apply to create the tables there (without it, schema "
						 "prints the statements)");
	mapping::Mapping mapping = mapping::LoadMapping(file);
	std::vector<std::string> statements = SchemaStatements(mapping);
	if (apply) {
		Apply(mapping, statements, *target);
		return 0;
	}
	std::printf("-- mosta-migrate schema of mapping %s (%s): idempotent, run it as often as needed\n",
				mapping.name.c_str(), file.c_str());
	std::printf("BEGIN;\n");
	for (const std::string &sql : statements)
		std::printf("%s;\n", sql.c_str());
	std::printf("COMMIT;\n");
	return 0;
}

} // namespace mosta::migrate
