/*
 * transform.hpp
 *     The forward mapping: one MongoDB document → the rows it becomes (mapping.hpp). The layout of each target
 *     table is fixed by the mapping (TableLayout); a document gives one row of its collection's table and, for each
 *     child table, one row per array element. Values are canonical texts (docs/verification.md, the same texts
 *     mosta_checksum hashes: BsonCanonicalText led by the column's type), so that backfill (which converts them to
 *     COPY text), verify (which hashes them) and the shadow-read sampler (which compares them) share one
 *     conversion. References hold the parent's legacy id, resolved to a uuid through id_map by the applier.
 *
 *     A value the column's type cannot hold (a string in an integer column, a missing field of a not-null column,
 *     a reference that is neither an ObjectId nor a string) makes the document a rejected one: its problems name the
 *     field and the value, and the applier records them instead of applying the document.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <bson/bson.h>

#include "mapping/mapping.hpp"

namespace mosta::mapping {

// What a table column holds.
enum class ColumnRole {
	Id,			  // the row's uuid: id_map's uuid of the legacy id (collection table) — never in a MappedRow's values
	LegacyId,	  // the document's _id as id_map keeps it (ObjectId: 24 lowercase hex digits)
	Value,		  // a mapped field's canonical text
	Reference,	  // the parent's legacy id (resolved through id_map in collection `references`)
	PolyKind,	  // 'entity' or 'template'
	PolyId,		  // the referenced entity's legacy id (resolved like Reference), NULL for a template
	PolyExternal, // the template's external reference (the string), NULL for an entity
	Extra,		  // jsonb canonical text of the unmapped fields ("{}" when none)
	Parent,		  // child table: the parent's legacy id (resolved in the parent collection)
	Position,	  // child table: the element's 0-based index
};

struct LayoutColumn {
	std::string name;
	std::string type; // PostgreSQL type as format_type prints it ("uuid", "text", "jsonb", "integer", ...)
	ColumnRole role = ColumnRole::Value;
	bool not_null = false;
	std::string references;			 // Reference/PolyId/Parent: the collection whose id_map resolves the value
	const FieldMap *field = nullptr; // Value/Reference/Poly*: the field it comes from
};

// The columns of one target table, in table order. Collection table: Id, LegacyId, then the fields' columns in
// mapping order (a polymorphic field gives PolyKind, PolyId, PolyExternal), then Extra. Child table: Parent,
// Position, the element fields' columns, then Extra (object elements only).
struct TableLayout {
	std::string table;
	std::string collection; // the collection whose documents fill it
	bool child = false;
	std::size_t child_index = 0; // child: index in CollectionMap::children
	std::vector<LayoutColumn> columns;
};

// CollectionLayout returns the collection table's layout; ChildLayout the layout of collection.children[index].
TableLayout CollectionLayout(const Mapping &mapping, const CollectionMap &collection);
TableLayout ChildLayout(const Mapping &mapping, const CollectionMap &collection, std::size_t index);

// One row: a value per layout column (nullopt = NULL; the Id column's value is always nullopt: the applier fills
// it from id_map).
struct MappedRow {
	std::vector<std::optional<std::string>> values;
};

// A field the document holds that its column cannot take.
struct TransformProblem {
	std::string field;	// dotted path ("items.2.price" for an element)
	std::string value;	// the value as relaxed extended JSON, shortened
	std::string reason; // "a string is not an integer", "missing, and the column is NOT NULL"
};

// What one document becomes.
struct MappedDocument {
	std::string legacy_id;						  // the _id as id_map keeps it
	MappedRow row;								  // the collection table's row
	std::vector<std::vector<MappedRow>> children; // per CollectionMap::children index, one row per element
	std::vector<TransformProblem> problems;		  // not empty: the document is rejected
};

// LegacyIdText returns the legacy id text of an _id value (ObjectId → 24 lowercase hex; string as is; int32/int64 →
// decimal), or nullopt for an _id of another type.
std::optional<std::string> LegacyIdText(const bson_iter_t *id);

// TransformDocument maps doc (a document of collection) through the mapping. Never throws for bad values (they
// are problems); throws MappingError only when doc has no usable _id.
MappedDocument TransformDocument(const Mapping &mapping, const CollectionMap &collection, const bson_t *doc);

} // namespace mosta::mapping
