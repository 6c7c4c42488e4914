/*
 * schema_ddl.cpp
 *     SchemaStatements (schema_ddl.hpp). Identifiers are always quoted (the mapping allows only plain ones, but the
 *     schema name and PostgreSQL's own rules are not ours to second-guess), table arguments of the helpers are
 *     regclass literals of the quoted qualified name.
 */
#include "schema_ddl.hpp"

#include <cstdint>
#include <cstdio>

#include "mosta/common/identifiers.hpp"

namespace mosta::migrate {

namespace {

using mapping::ChildMap;
using mapping::CollectionMap;
using mapping::FieldKind;
using mapping::FieldMap;
using mapping::IndexMap;
using mapping::Mapping;

// PostgreSQL's NAMEDATALEN - 1.
constexpr std::size_t kMaxName = 63;

std::string
ColumnList(const std::vector<std::string> &columns) {
	std::string out;
	for (const std::string &column : columns)
		out += (out.empty() ? "" : ", ") + QuoteIdentifier(column);
	return out;
}

std::string
TextArray(const std::vector<std::string> &values) {
	std::string out = "ARRAY[";
	for (std::size_t i = 0; i < values.size(); ++i)
		out += (i == 0 ? "" : ", ") + QuoteLiteral(values[i]);
	return out + "]::text[]";
}

class Ddl {
  public:
	explicit Ddl(const Mapping &mapping) : mapping_(mapping) {}

	std::vector<std::string>
	Statements() {
		if (mapping_.schema != "public")
			out_.push_back("CREATE SCHEMA IF NOT EXISTS " + QuoteIdentifier(mapping_.schema));
		for (const CollectionMap *collection : mapping::LoadOrder(mapping_))
			Collection(*collection);
		return std::move(out_);
	}

  private:
	std::string
	Table(const std::string &table) const {
		return QuoteQualifiedName(mapping_.schema, table);
	}

	// RegClass is the table as a regclass argument of a helper.
	std::string
	RegClass(const std::string &table) const {
		return QuoteLiteral(Table(table));
	}

	// ReferencedTable returns the table of the collection a reference names.
	std::string
	ReferencedTable(const FieldMap &field) const {
		const CollectionMap *parent = mapping_.Find(field.references);
		return parent != nullptr ? parent->table : field.references;
	}

	std::string
	ColumnDefinition(const FieldMap &field) const {
		std::string line = QuoteIdentifier(field.column) + " " + field.type;
		if (field.not_null)
			line += " NOT NULL";
		if (field.kind == FieldKind::Reference) {
			const CollectionMap *parent = mapping_.Find(field.references);
			line += " REFERENCES " + Table(ReferencedTable(field)) + " (" +
					QuoteIdentifier(parent != nullptr ? parent->id_column : "id") + ")";
		}
		return line;
	}

	void
	Collection(const CollectionMap &c) {
		std::vector<std::string> lines;
		lines.push_back(QuoteIdentifier(c.id_column) + " uuid PRIMARY KEY");
		lines.push_back(QuoteIdentifier(c.legacy_id_column) + " text NOT NULL UNIQUE");
		for (const FieldMap &field : c.fields)
			if (field.kind == FieldKind::Column || field.kind == FieldKind::Reference)
				lines.push_back(ColumnDefinition(field));
		lines.push_back(QuoteIdentifier(c.extra_column) + " jsonb NOT NULL DEFAULT '{}'");
		CreateTable(c.table, lines);
		// the helper adds the three columns, the foreign key and the CHECK (and is a no-op once declared)
		for (const FieldMap &field : c.fields)
			if (field.kind == FieldKind::Polymorphic)
				out_.push_back("SELECT mosta_add_polymorphic_ref(" + RegClass(c.table) + ", " +
							   QuoteLiteral(field.column) + ", " + RegClass(ReferencedTable(field)) + ")");
		for (const ChildMap &child : c.children)
			Child(c, child);
		// mosta_set_id_policy logs each call: call it only when the policy is not the one declared
		std::string policy = QuoteLiteral(mapping::IdPolicyName(c.id_policy));
		std::string require = c.require_objectid ? "true" : "false";
		out_.push_back(
			"SELECT mosta_set_id_policy(" + QuoteLiteral(c.collection) + ", " + policy + ", " + require +
			") WHERE NOT EXISTS (SELECT 1 FROM mosta.id_policies p WHERE p.collection = " + QuoteLiteral(c.collection) +
			" AND p.policy = " + policy + " AND p.require_objectid = " + require + ")");
		for (const IndexMap &index : c.indexes)
			Index(c, index);
	}

	void
	CreateTable(const std::string &table, const std::vector<std::string> &lines) {
		std::string sql = "CREATE TABLE IF NOT EXISTS " + Table(table) + " (\n";
		for (std::size_t i = 0; i < lines.size(); ++i)
			sql += "\t" + lines[i] + (i + 1 < lines.size() ? ",\n" : "\n");
		out_.push_back(sql + ")");
	}

	void
	Child(const CollectionMap &c, const ChildMap &child) {
		std::vector<std::string> lines;
		lines.push_back(QuoteIdentifier(child.parent_column) + " uuid NOT NULL REFERENCES " + Table(c.table) + " (" +
						QuoteIdentifier(c.id_column) + ") ON DELETE CASCADE");
		lines.push_back(QuoteIdentifier(child.position_column) + " integer NOT NULL");
		for (const FieldMap &field : child.fields)
			lines.push_back(ColumnDefinition(field));
		if (!child.extra_column.empty())
			lines.push_back(QuoteIdentifier(child.extra_column) + " jsonb NOT NULL DEFAULT '{}'");
		lines.push_back("PRIMARY KEY (" + QuoteIdentifier(child.parent_column) + ", " +
						QuoteIdentifier(child.position_column) + ")");
		CreateTable(child.table, lines);
	}

	void
	Index(const CollectionMap &c, const IndexMap &index) {
		switch (index.kind) {
		case IndexMap::Kind::SparseUnique:
			out_.push_back("SELECT mosta_add_sparse_unique(" + RegClass(c.table) + ", " + TextArray(index.columns) +
						   ")");
			return;
		case IndexMap::Kind::PartialUnique:
		case IndexMap::Kind::Unique:
		case IndexMap::Kind::Plain: {
			bool unique = index.kind != IndexMap::Kind::Plain;
			std::string name =
				!index.name.empty() ? index.name : IndexName(c.table, index.columns, unique ? "key" : "idx");
			std::string sql = std::string("CREATE ") + (unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS " +
							  QuoteIdentifier(name) + " ON " + Table(c.table) + " (" + ColumnList(index.columns) + ")";
			if (index.kind == IndexMap::Kind::PartialUnique)
				sql += " WHERE " + index.where;
			out_.push_back(sql);
			return;
		}
		case IndexMap::Kind::Ttl:
			// each expiry pass looks for expired rows: an index on the column keeps it cheap
			out_.push_back("CREATE INDEX IF NOT EXISTS " + QuoteIdentifier(IndexName(c.table, index.columns, "idx")) +
						   " ON " + Table(c.table) + " (" + ColumnList(index.columns) + ")");
			// mosta_add_ttl is a no-op for the same TTL and refuses another one
			out_.push_back("SELECT mosta_add_ttl(" + RegClass(c.table) + ", " + QuoteLiteral(index.columns.at(0)) +
						   ", " + QuoteLiteral(index.ttl) + ")");
			return;
		}
	}

	const Mapping &mapping_;
	std::vector<std::string> out_;
};

} // namespace

std::string
IndexName(const std::string &table, const std::vector<std::string> &columns, const std::string &suffix) {
	std::string name = table;
	for (const std::string &column : columns)
		name += "_" + column;
	name += "_" + suffix;
	if (name.size() <= kMaxName)
		return name;
	std::uint32_t hash = 2166136261u; // FNV-1a
	for (unsigned char c : name) {
		hash ^= c;
		hash *= 16777619u;
	}
	char hex[9];
	std::snprintf(hex, sizeof hex, "%08x", hash);
	std::string tail = "_" + std::string(hex) + "_" + suffix;
	return name.substr(0, kMaxName - tail.size()) + tail;
}

std::vector<std::string>
SchemaStatements(const mapping::Mapping &mapping) {
	return Ddl(mapping).Statements();
}

} // namespace mosta::migrate
