/*
 * pg_source_catalog.cpp
 *     The catalog reader of the PostgreSQL source (see pg_source_catalog.hpp). A handful of queries, each over
 *     every table at once (never one round trip per table), joined here by table oid.
 */
#include "io/pg_source_catalog.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "io/pg_source_conn.hpp"
#include "io/source.hpp"
#include "mosta/common/identifiers.hpp"

namespace mosta::copy {

namespace {

using Oid32 = std::uint32_t;

// The namespaces nothing is read from: the system's and the temporary ones.
constexpr const char *kUserNamespace = "n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'";

// kNotExtensionMember keeps out the relations an extension created (CREATE EXTENSION's pg_depend 'e' rows).
constexpr const char *kNotExtensionMember =
	"NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
	"AND d.objid = c.oid AND d.deptype = 'e')";

Oid32
OidField(const PGresult *result, int row, int column) {
	return static_cast<Oid32>(PgFieldInt(result, row, column));
}

std::string
Text(const PGresult *result, int row, int column) {
	return std::string(PgField(result, row, column));
}

// A table being read, with what only the reader needs.
struct TableRow {
	Oid32 oid;
	char relkind;
	TableDef def;
	std::vector<Oid32> column_types; // per column: atttypid
};

// ReadTables returns the tables (roots only), in schema and name order.
std::vector<TableRow>
ReadTables(PGconn *conn) {
	std::string sql =
		std::string("SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples, "
					"coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), ''), "
					"CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END "
					"FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					"WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relpersistence <> 't' AND ") +
		kUserNamespace + " AND " + kNotExtensionMember + " ORDER BY n.nspname, c.relname";
	auto result = PgExec(conn, sql, "reading the tables");
	std::vector<TableRow> tables;
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		TableRow row;
		row.oid = OidField(result.get(), r, 0);
		row.def.schema = Text(result.get(), r, 1);
		row.def.name = Text(result.get(), r, 2);
		row.relkind = PgField(result.get(), r, 3)[0];
		std::int64_t tuples = PgFieldInt(result.get(), r, 4, -1);
		row.def.estimated_rows = tuples < 0 ? -1 : tuples;
		row.def.comment = Text(result.get(), r, 5);
		row.def.partition_key = Text(result.get(), r, 6);
		tables.push_back(std::move(row));
	}
	return tables;
}

// LockTables takes ACCESS SHARE on every table (a partitioned table's lock covers its partitions).
void
LockTables(PGconn *conn, const std::vector<TableRow> &tables) {
	constexpr std::size_t kPerStatement = 500;
	for (std::size_t start = 0; start < tables.size(); start += kPerStatement) {
		std::string sql = "LOCK TABLE ";
		for (std::size_t i = start; i < tables.size() && i < start + kPerStatement; ++i) {
			if (i > start)
				sql += ", ";
			sql += QuoteQualifiedName(tables[i].def.schema, tables[i].def.name);
		}
		PgExec(conn, sql + " IN ACCESS SHARE MODE", "locking the tables (ACCESS SHARE, as pg_dump does)");
	}
}

// ReadColumns fills each table's columns (type and base type resolved later).
void
ReadColumns(PGconn *conn, const std::string &oids, std::unordered_map<Oid32, TableRow *> &by_oid) {
	const std::string sql =
		"SELECT a.attrelid, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
		"coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), ''), a.attgenerated, a.attidentity, "
		"CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation "
		"THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) ELSE '' END, "
		"a.atttypid "
		"FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid "
		"LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum "
		"LEFT JOIN pg_catalog.pg_collation co ON co.oid = a.attcollation "
		"LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "
		"WHERE a.attrelid = ANY($1::pg_catalog.oid[]) AND a.attnum > 0 AND NOT a.attisdropped "
		"ORDER BY a.attrelid, a.attnum";
	auto result = PgExecParams(conn, sql, {oids}, "reading the columns");
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		TableRow &table = *by_oid.at(OidField(result.get(), r, 0));
		ColumnDef column;
		column.name = Text(result.get(), r, 1);
		column.type = Text(result.get(), r, 2);
		column.not_null = PgFieldBool(result.get(), r, 3);
		std::string expression = Text(result.get(), r, 4);
		std::string_view generated = PgField(result.get(), r, 5);
		if (generated == "s")
			column.generated = std::move(expression);
		else
			column.default_expr = std::move(expression);
		std::string_view identity = PgField(result.get(), r, 6);
		column.identity = identity.empty() ? '\0' : identity[0];
		column.collation = Text(result.get(), r, 7);
		table.def.columns.push_back(std::move(column));
		table.column_types.push_back(OidField(result.get(), r, 8));
	}
}

// One row of pg_type, for the types the columns use.
struct TypeRow {
	Oid32 oid = 0;
	std::string schema, name;
	char typtype = 'b';
	Oid32 basetype = 0;
	bool not_null = false;
	std::string default_expr;
	std::string base_format; // a domain's format_type(typbasetype, typtypmod)
	Oid32 element = 0;		 // a true array's element type, else 0
	std::string collation;	 // a domain's non-default collation
	char relkind = '\0';	 // a composite's relation kind ('c' for CREATE TYPE ... AS)
};

// ReadTypes returns the rows of the types oids name, and of the types those depend on (domain bases, array
// elements), until the set is closed.
std::unordered_map<Oid32, TypeRow>
ReadTypes(PGconn *conn, std::set<Oid32> pending) {
	const std::string sql =
		"SELECT t.oid, n.nspname, t.typname, t.typtype, t.typbasetype, t.typnotnull, "
		"coalesce(pg_catalog.pg_get_expr(t.typdefaultbin, 0), t.typdefault, ''), "
		"CASE WHEN t.typtype = 'd' THEN pg_catalog.format_type(t.typbasetype, t.typtypmod) ELSE '' END, "
		"CASE WHEN t.typlen = -1 AND t.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc "
		"THEN t.typelem ELSE 0 END, "
		"CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 AND t.typcollation <> bt.typcollation "
		"THEN pg_catalog.quote_ident(cn.nspname) || '.' || pg_catalog.quote_ident(co.collname) ELSE '' END, "
		"coalesce(rel.relkind::text, '') "
		"FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
		"LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype "
		"LEFT JOIN pg_catalog.pg_collation co ON co.oid = t.typcollation "
		"LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace "
		"LEFT JOIN pg_catalog.pg_class rel ON rel.oid = t.typrelid "
		"WHERE t.oid = ANY($1::pg_catalog.oid[])";
	std::unordered_map<Oid32, TypeRow> types;
	while (!pending.empty()) {
		auto result = PgExecParams(conn, sql, {PgOidArray({pending.begin(), pending.end()})}, "reading the types");
		pending.clear();
		for (int r = 0; r < PQntuples(result.get()); ++r) {
			TypeRow row;
			row.oid = OidField(result.get(), r, 0);
			row.schema = Text(result.get(), r, 1);
			row.name = Text(result.get(), r, 2);
			row.typtype = PgField(result.get(), r, 3)[0];
			row.basetype = OidField(result.get(), r, 4);
			row.not_null = PgFieldBool(result.get(), r, 5);
			row.default_expr = Text(result.get(), r, 6);
			row.base_format = Text(result.get(), r, 7);
			row.element = OidField(result.get(), r, 8);
			row.collation = Text(result.get(), r, 9);
			std::string_view relkind = PgField(result.get(), r, 10);
			row.relkind = relkind.empty() ? '\0' : relkind[0];
			for (Oid32 next : {row.typtype == 'd' ? row.basetype : 0, row.element})
				if (next != 0 && types.count(next) == 0)
					pending.insert(next);
			types.emplace(row.oid, std::move(row));
		}
		for (const auto &[oid, row] : types)
			pending.erase(oid);
	}
	return types;
}

// TypeResolver gives a column's base type and collects the enums and domains the columns use, each after the
// types it depends on.
class TypeResolver {
  public:
	explicit TypeResolver(const std::unordered_map<Oid32, TypeRow> &types) : types_(types) {}

	// BaseType returns what classifies a value of type oid (declared as formatted): a domain's base type with its
	// typmod, an array of domains as its element's base type + "[]", else formatted itself.
	std::string
	BaseType(Oid32 oid, const std::string &formatted) const {
		const TypeRow &row = Row(oid);
		if (row.typtype == 'd')
			return BaseType(row.basetype, row.base_format);
		if (row.element != 0 && Row(row.element).typtype == 'd')
			return BaseType(row.element, "") + "[]";
		return formatted;
	}

	// Use records that a column (named for messages) uses type oid; throws for composite and range types.
	void
	Use(Oid32 oid, const std::string &column) {
		const TypeRow &row = Row(oid);
		if (!visited_.insert(oid).second)
			return;
		std::string name = row.schema + "." + row.name;
		if (row.typtype == 'c')
			throw CopyError("column " + column + " has the composite type " + name +
							", which mosta-copy does not copy (hint: pg_dump is the tool for such a database)");
		if ((row.typtype == 'r' || row.typtype == 'm') && row.schema != "pg_catalog")
			throw CopyError("column " + column + " has the range type " + name +
							", which mosta-copy does not copy (hint: pg_dump is the tool for such a database)");
		if (row.element != 0)
			Use(row.element, column);
		if (row.typtype == 'd') {
			Use(row.basetype, column);
			used_.push_back(oid);
		} else if (row.typtype == 'e') {
			used_.push_back(oid);
		}
	}

	// Used returns the enums and domains used, dependencies first.
	const std::vector<Oid32> &
	Used() const noexcept {
		return used_;
	}

	const TypeRow &
	Row(Oid32 oid) const {
		auto found = types_.find(oid);
		if (found == types_.end())
			throw CopyError("type " + std::to_string(oid) + " vanished while the catalog was read");
		return found->second;
	}

  private:
	const std::unordered_map<Oid32, TypeRow> &types_;
	std::set<Oid32> visited_;
	std::vector<Oid32> used_;
};

// ReadTypeDefs returns the TypeDefs of the enums and domains used, in order.
std::vector<TypeDef>
ReadTypeDefs(PGconn *conn, const TypeResolver &resolver) {
	std::vector<Oid32> used = resolver.Used();
	std::map<Oid32, std::vector<std::string>> labels, checks;
	if (!used.empty()) {
		std::string oids = PgOidArray(used);
		auto enums = PgExecParams(conn,
								  "SELECT enumtypid, enumlabel FROM pg_catalog.pg_enum "
								  "WHERE enumtypid = ANY($1::pg_catalog.oid[]) ORDER BY enumtypid, enumsortorder",
								  {oids}, "reading the enum labels");
		for (int r = 0; r < PQntuples(enums.get()); ++r)
			labels[OidField(enums.get(), r, 0)].push_back(Text(enums.get(), r, 1));
		auto constraints =
			PgExecParams(conn,
						 "SELECT contypid, 'CONSTRAINT ' || pg_catalog.quote_ident(conname) || ' ' || "
						 "pg_catalog.pg_get_constraintdef(oid) FROM pg_catalog.pg_constraint "
						 "WHERE contypid = ANY($1::pg_catalog.oid[]) AND contype = 'c' ORDER BY contypid, conname",
						 {oids}, "reading the domain constraints");
		for (int r = 0; r < PQntuples(constraints.get()); ++r)
			checks[OidField(constraints.get(), r, 0)].push_back(Text(constraints.get(), r, 1));
	}
	std::vector<TypeDef> defs;
	for (Oid32 oid : used) {
		const TypeRow &row = resolver.Row(oid);
		TypeDef def;
		def.schema = row.schema;
		def.name = row.name;
		if (row.typtype == 'e') {
			def.kind = "enum";
			def.labels = labels[oid];
		} else {
			def.kind = "domain";
			def.base_type = row.base_format;
			def.not_null = row.not_null;
			def.default_expr = row.default_expr;
			def.checks = checks[oid];
			def.collation = row.collation;
		}
		defs.push_back(std::move(def));
	}
	return defs;
}

// ReadConstraints fills primary keys, checks, post-data constraints and foreign keys.
void
ReadConstraints(PGconn *conn, const std::string &oids, std::unordered_map<Oid32, TableRow *> &by_oid) {
	auto keys = PgExecParams(conn,
							 "SELECT c.conrelid, a.attname FROM pg_catalog.pg_constraint c, "
							 "unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord), pg_catalog.pg_attribute a "
							 "WHERE c.contype = 'p' AND c.conrelid = ANY($1::pg_catalog.oid[]) "
							 "AND a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY c.conrelid, k.ord",
							 {oids}, "reading the primary keys");
	for (int r = 0; r < PQntuples(keys.get()); ++r)
		by_oid.at(OidField(keys.get(), r, 0))->def.primary_key.push_back(Text(keys.get(), r, 1));

	auto constraints = PgExecParams(
		conn,
		"SELECT c.conrelid, c.contype, pg_catalog.quote_ident(c.conname), pg_catalog.pg_get_constraintdef(c.oid), "
		"c.convalidated, coalesce(rn.nspname, ''), coalesce(r.relname, '') "
		"FROM pg_catalog.pg_constraint c LEFT JOIN pg_catalog.pg_class r ON r.oid = c.confrelid "
		"LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = r.relnamespace "
		"WHERE c.conrelid = ANY($1::pg_catalog.oid[]) AND c.contype IN ('p', 'u', 'x', 'c', 'f') "
		"ORDER BY c.conrelid, c.contype = 'p' DESC, c.contype, c.conname",
		{oids}, "reading the constraints");
	for (int r = 0; r < PQntuples(constraints.get()); ++r) {
		TableRow &table = *by_oid.at(OidField(constraints.get(), r, 0));
		char type = PgField(constraints.get(), r, 1)[0];
		std::string name = Text(constraints.get(), r, 2);
		std::string definition = Text(constraints.get(), r, 3);
		bool validated = PgFieldBool(constraints.get(), r, 4);
		// ONLY: the constraint of this table alone; a partitioned table's must reach its partitions
		std::string alter = std::string(table.relkind == 'p' ? "ALTER TABLE " : "ALTER TABLE ONLY ") +
							QuoteQualifiedName(table.def.schema, table.def.name) + " ADD CONSTRAINT " + name + " " +
							definition + ";";
		if (type == 'c' && validated)
			table.def.check_constraints.push_back("CONSTRAINT " + name + " " + definition);
		else if (type == 'f') {
			table.def.foreign_keys.push_back(std::move(alter));
			std::string referenced = Text(constraints.get(), r, 5) + "." + Text(constraints.get(), r, 6);
			auto &references = table.def.references;
			if (std::find(references.begin(), references.end(), referenced) == references.end())
				references.push_back(std::move(referenced));
		} else // p, u, x, and a check NOT VALID (which CREATE TABLE cannot take)
			table.def.post_data.push_back(std::move(alter));
	}

	auto indexes = PgExecParams(
		conn,
		"SELECT i.indrelid, pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i "
		"JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = ANY($1::pg_catalog.oid[]) "
		"AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint c WHERE c.conindid = i.indexrelid "
		"AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')) ORDER BY i.indrelid, ic.relname",
		{oids}, "reading the indexes");
	for (int r = 0; r < PQntuples(indexes.get()); ++r) {
		std::string definition = Text(indexes.get(), r, 1);
		// a partitioned table's index is printed "ON ONLY" (the parent alone, invalid until each partition's is
		// attached); created without ONLY, PostgreSQL builds it on every partition
		if (std::size_t only = definition.find(" ON ONLY "); only != std::string::npos)
			definition.erase(only + 3, 5);
		by_oid.at(OidField(indexes.get(), r, 0))->def.post_data.push_back(definition + ";");
	}
}

// ReadPartitions fills the partitioned tables' partitions (parents before children) and their row estimate.
void
ReadPartitions(PGconn *conn, const std::vector<Oid32> &roots, std::unordered_map<Oid32, TableRow *> &by_oid) {
	if (roots.empty())
		return;
	auto result = PgExecParams(
		conn,
		"WITH RECURSIVE parts(oid, parent, root, level) AS ("
		" SELECT i.inhrelid, i.inhparent, i.inhparent, 1 FROM pg_catalog.pg_inherits i"
		" WHERE i.inhparent = ANY($1::pg_catalog.oid[])"
		" UNION ALL SELECT i.inhrelid, i.inhparent, p.root, p.level + 1"
		" FROM pg_catalog.pg_inherits i JOIN parts p ON i.inhparent = p.oid) "
		"SELECT p.root, n.nspname, c.relname, pn.nspname, pc.relname, "
		"coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), ''), "
		"CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) ELSE '' END, c.reltuples, c.relkind "
		"FROM parts p JOIN pg_catalog.pg_class c ON c.oid = p.oid "
		"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
		"JOIN pg_catalog.pg_class pc ON pc.oid = p.parent JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace "
		"ORDER BY p.root, p.level, n.nspname, c.relname",
		{PgOidArray(roots)}, "reading the partitions");
	std::map<Oid32, std::int64_t> estimates;
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		Oid32 root = OidField(result.get(), r, 0);
		PartitionDef partition;
		partition.schema = Text(result.get(), r, 1);
		partition.name = Text(result.get(), r, 2);
		partition.parent_schema = Text(result.get(), r, 3);
		partition.parent_name = Text(result.get(), r, 4);
		partition.bound = Text(result.get(), r, 5);
		partition.partition_key = Text(result.get(), r, 6);
		by_oid.at(root)->def.partitions.push_back(std::move(partition));
		std::int64_t tuples = PgFieldInt(result.get(), r, 7, -1);
		if (PgField(result.get(), r, 8) != "p" && tuples >= 0)
			estimates[root] += tuples;
	}
	for (Oid32 root : roots)
		by_oid.at(root)->def.estimated_rows = estimates.count(root) ? estimates[root] : -1;
}

// ReadSequences returns the sequences of the user schemas with their values and owners.
std::vector<SequenceDef>
ReadSequences(PGconn *conn) {
	std::string sql =
		std::string(
			"SELECT n.nspname, c.relname, pg_catalog.format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, "
			"s.seqmin, s.seqmax, s.seqcache, s.seqcycle, coalesce(tn.nspname, ''), coalesce(t.relname, ''), "
			"coalesce(a.attname, ''), coalesce(d.deptype::text, '') "
			"FROM pg_catalog.pg_sequence s JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid "
			"JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
			"LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass "
			"AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
			"AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') "
			"LEFT JOIN pg_catalog.pg_class t ON t.oid = d.refobjid "
			"LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace "
			"LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
			"WHERE c.relpersistence <> 't' AND ") +
		kUserNamespace + " AND " + kNotExtensionMember + " ORDER BY n.nspname, c.relname";
	auto result = PgExec(conn, sql, "reading the sequences");
	std::vector<SequenceDef> sequences;
	for (int r = 0; r < PQntuples(result.get()); ++r) {
		SequenceDef seq;
		seq.schema = Text(result.get(), r, 0);
		seq.name = Text(result.get(), r, 1);
		seq.data_type = Text(result.get(), r, 2);
		seq.start = PgFieldInt(result.get(), r, 3);
		seq.increment = PgFieldInt(result.get(), r, 4);
		seq.min_value = PgFieldInt(result.get(), r, 5);
		seq.max_value = PgFieldInt(result.get(), r, 6);
		seq.cache = PgFieldInt(result.get(), r, 7);
		seq.cycle = PgFieldBool(result.get(), r, 8);
		std::string owner_table = Text(result.get(), r, 10);
		if (!owner_table.empty()) {
			seq.owned_by_table = Text(result.get(), r, 9) + "." + owner_table;
			seq.owned_by_column = Text(result.get(), r, 11);
			seq.identity = PgField(result.get(), r, 12) == "i";
		}
		sequences.push_back(std::move(seq));
	}
	// the values, read from each sequence (in the snapshot), many per statement
	constexpr std::size_t kPerStatement = 200;
	for (std::size_t start = 0; start < sequences.size(); start += kPerStatement) {
		std::string values;
		for (std::size_t i = start; i < sequences.size() && i < start + kPerStatement; ++i) {
			if (i > start)
				values += " UNION ALL ";
			values += "SELECT " + std::to_string(i) + ", last_value, is_called FROM " +
					  QuoteQualifiedName(sequences[i].schema, sequences[i].name);
		}
		auto rows = PgExec(conn, values, "reading the sequences' values");
		for (int r = 0; r < PQntuples(rows.get()); ++r) {
			SequenceDef &seq = sequences.at(static_cast<std::size_t>(PgFieldInt(rows.get(), r, 0)));
			seq.last_value = PgFieldInt(rows.get(), r, 1);
			seq.is_called = PgFieldBool(rows.get(), r, 2);
		}
	}
	return sequences;
}

} // namespace

DatabaseSchema
ReadPgCatalog(PGconn *conn) {
	std::vector<TableRow> tables = ReadTables(conn);
	LockTables(conn, tables);
	std::unordered_map<Oid32, TableRow *> by_oid;
	std::vector<Oid32> oids, roots;
	for (TableRow &table : tables) {
		by_oid[table.oid] = &table;
		oids.push_back(table.oid);
		if (table.relkind == 'p')
			roots.push_back(table.oid);
	}
	DatabaseSchema schema;
	if (!tables.empty()) {
		std::string oid_array = PgOidArray(oids);
		ReadColumns(conn, oid_array, by_oid);
		std::set<Oid32> column_types;
		for (const TableRow &table : tables)
			column_types.insert(table.column_types.begin(), table.column_types.end());
		std::unordered_map<Oid32, TypeRow> types = ReadTypes(conn, column_types);
		TypeResolver resolver(types);
		for (TableRow &table : tables)
			for (std::size_t i = 0; i < table.def.columns.size(); ++i) {
				ColumnDef &column = table.def.columns[i];
				resolver.Use(table.column_types[i], table.def.QualifiedName() + "." + column.name);
				column.base_type = resolver.BaseType(table.column_types[i], column.type);
			}
		schema.types = ReadTypeDefs(conn, resolver);
		ReadConstraints(conn, oid_array, by_oid);
		ReadPartitions(conn, roots, by_oid);
	}
	schema.sequences = ReadSequences(conn);
	for (TableRow &table : tables)
		schema.tables.push_back(std::move(table.def));
	SortByForeignKeys(schema.tables);
	return schema;
}

} // namespace mosta::copy
