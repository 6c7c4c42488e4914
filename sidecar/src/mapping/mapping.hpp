/*
 * mapping.hpp
 *     The migration mapping (docs/migration-mapping.md): how the documents of MongoDB collections become rows of
 *     PostgreSQL tables. One mapping file (JSON) describes, per collection, the target table, the id policy that
 *     turns each _id into a uuid through mosta.id_map (the legacy id is kept in a column of its own), the fields
 *     (dotted paths) that become typed columns, references that become foreign keys remapped through id_map,
 *     polymorphic ("Mixed") references that become mosta_add_polymorphic_ref's kind/id/external_ref columns,
 *     embedded arrays that become child tables (parent key + position + element columns) or jsonb, the indexes
 *     the legacy store kept (sparse unique, partial unique, TTL) and the sums verify compares exactly. Every field
 *     a document holds that the mapping does not name lands in the table's jsonb extra column: nothing is dropped.
 *
 *     This header is the model only (plain data, no I/O): mapping_parse.cpp reads a file into it with errors that
 *     name the file, line and column; mapping_order.cpp orders collections parents first; transform.hpp turns a
 *     document into rows; the MongoDB sink's reverse mapping turns rows back into documents. It lives in
 *     sidecar_core because both mosta-migrate (migrate/) and the sidecar's MongoDB sink (the rollback mirror) use it.
 */
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mosta::mapping {

// Where a mapping element was written in its file (1-based; 0 when built in code).
struct SourceAt {
	int line = 0;
	int column = 0;
};

// MappingError is an invalid mapping; what() starts with "FILE:LINE:COLUMN: " when the place is known and says what
// to write instead.
class MappingError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// How a collection's _ids become uuids: mosta_set_id_policy's policies.
enum class IdPolicy { Random, TimeOrdered, Deterministic, ObjectId };

// What a mapped field becomes.
enum class FieldKind {
	Column,		 // one typed column holding the value (a subdocument or array in a jsonb column: type "jsonb")
	Reference,	 // a uuid column, foreign key to the referenced collection's table, remapped through id_map
	Polymorphic, // <ref>_ref_kind ('entity' | 'template'), <ref>_id (uuid, FK) and <ref>_external_ref (text):
				 // an ObjectId value is an entity of the referenced collection, a string a template's reference
	ChildTable, // an embedded array: one row per element in the child table children[child]
};

// One mapped field of a document (or of an array element, for a child table).
struct FieldMap {
	// Dotted path from the document (or the element) root: "email", "profile.displayName". For a child table of
	// an array of scalars, the element itself has path "" (one field only).
	std::string path;
	FieldKind kind = FieldKind::Column;
	// Column/Reference: the column. Polymorphic: the reference's name (its three columns derive from it).
	std::string column;
	// Column: the PostgreSQL type as format_type prints it ("text", "integer", "numeric(38,18)",
	// "timestamp with time zone", "boolean", "jsonb", "text[]"). Reference: "uuid". Polymorphic: "" (fixed).
	std::string type;
	bool not_null = false;
	// Reference/Polymorphic: the referenced collection (a collection of this mapping).
	std::string references;
	// The BSON type the legacy documents hold ("string", "int", "long", "double", "decimal", "bool", "date",
	// "objectId", "object", "array"); the reverse mapping writes this type back. Empty: derived from type.
	std::string bson_type;
	// ChildTable: index into CollectionMap::children.
	std::size_t child = 0;
	SourceAt at;
};

// An embedded array mapped to a child table: one row per element, keyed by (parent, position).
struct ChildMap {
	std::string table;						  // the child table (in Mapping::schema)
	std::string parent_column = "parent_id";  // uuid, FK to the parent table's id, ON DELETE CASCADE
	std::string position_column = "position"; // integer, the element's index in the array (0-based)
	std::vector<FieldMap> fields;			  // Column or Reference fields of an element
	// Unmapped fields of object elements (jsonb); empty for arrays of scalars (the one field has path "").
	std::string extra_column = "extra";
	SourceAt at;
};

// An index or constraint the legacy store kept, carried over by the DDL mosta-migrate prints.
struct IndexMap {
	enum class Kind {
		SparseUnique,  // mosta_add_sparse_unique(table, columns): unique where every column is not null
		PartialUnique, // CREATE UNIQUE INDEX ... WHERE where (MongoDB's partialFilterExpression)
		Unique,		   // CREATE UNIQUE INDEX
		Plain,		   // CREATE INDEX
		Ttl,		   // mosta_add_ttl(table, columns[0], ttl): MongoDB's expireAfterSeconds
	};
	Kind kind = Kind::Plain;
	std::string name;				  // optional; generated when empty
	std::vector<std::string> columns; // column names (after mapping)
	std::string where;				  // PartialUnique: a SQL boolean expression over the columns
	std::string ttl;				  // Ttl: an interval text ("90 days", "3600 seconds")
	SourceAt at;
};

// An exact sum verify compares between the two stores: SUM(column) grouped by group_by (mosta_sum_by).
struct SumCheck {
	std::string column;
	std::vector<std::string> group_by;
	SourceAt at;
};

// One collection → one table.
struct CollectionMap {
	std::string collection; // the MongoDB collection (also the id_map collection name)
	std::string table;		// the target table (in Mapping::schema)
	IdPolicy id_policy = IdPolicy::ObjectId;
	bool require_objectid = false;
	std::string id_column = "id";					   // uuid primary key, from id_map
	std::string legacy_id_column = "legacy_object_id"; // text, unique: the _id as id_map keeps it
	std::string extra_column = "extra";				   // jsonb: every field the mapping does not name
	std::vector<FieldMap> fields;
	std::vector<ChildMap> children;
	std::vector<IndexMap> indexes;
	std::vector<SumCheck> sums;
	SourceAt at;
};

// A gapless counter the legacy store allocated atomically; after backfill its (scope, key) values continue from the
// highest legacy value: key = the key columns' texts joined by ':', value = max(value_column).
struct CounterMap {
	std::string scope;
	std::string collection;
	std::vector<std::string> key_columns;
	std::string value_column;
	SourceAt at;
};

// The whole mapping file.
struct Mapping {
	std::string name;			   // names the migration's state (checkpoints, stream position, problems)
	std::string file;			   // where it was read from ("" when built in code)
	std::string source_database;   // the MongoDB database; empty: the source URI's
	std::string schema = "public"; // the PostgreSQL schema of every table
	std::vector<CollectionMap> collections;
	std::vector<CounterMap> counters;

	// Find returns the collection's map, or nullptr.
	const CollectionMap *
	Find(const std::string &collection) const noexcept {
		for (const CollectionMap &c : collections)
			if (c.collection == collection)
				return &c;
		return nullptr;
	}
};

// The names of a polymorphic reference's three columns (mosta_add_polymorphic_ref's).
inline std::string
PolymorphicKindColumn(const std::string &ref) {
	return ref + "_ref_kind";
}
inline std::string
PolymorphicIdColumn(const std::string &ref) {
	return ref + "_id";
}
inline std::string
PolymorphicExternalColumn(const std::string &ref) {
	return ref + "_external_ref";
}

// IdPolicyName returns mosta_set_id_policy's name of policy ("objectid", "time-ordered", ...).
const char *IdPolicyName(IdPolicy policy) noexcept;

// ParseMapping reads a mapping from text (file names the file in errors); validates it whole: every error names its
// line and column. Throws MappingError.
Mapping ParseMapping(const std::string &text, const std::string &file);

// LoadMapping reads and parses the file at path; throws MappingError (also when it cannot be read).
Mapping LoadMapping(const std::string &path);

// LoadOrder returns the collections parents first (a collection after every collection its references name;
// self-references allowed, ties in file order); throws MappingError naming a cycle ("payments → offers → payments").
std::vector<const CollectionMap *> LoadOrder(const Mapping &mapping);

} // namespace mosta::mapping
