/*
 * reverse.hpp
 *     The reverse mapping (the rollback mirror, docs/mongodb.md "Mapped mirror"): the rows of a collection's table
 *     and of its child tables → the legacy document, in the shape the application read from MongoDB before
 *     cutover. Pure (libbson only): the id_map lookups a row needs come through a LegacyIdOf callback.
 *
 *       _id                  ← the legacy id column: 24 lowercase hex digits → ObjectId, any other text → string
 *       Column field         ← the value at its dotted path (subdocuments rebuilt), in the field's "bson" type when
 *                              the mapping gives one, else by the column's PostgreSQL type (as the plain MongoDB
 *                              sink maps it: numeric → Decimal128, timestamptz → date, jsonb → document, ...)
 *       Reference            ← the parent's legacy id (id_map of the referenced collection), as ObjectId or string
 *       Polymorphic          ← 'entity': the entity's legacy id; 'template': the external reference string
 *       Child table          ← an array of the child rows in position order (object elements: their fields and
 *                              element extra; scalar elements: the "" field's value)
 *       extra (jsonb)        ← merged back at the places it names (a subdocument both hold is merged field by field;
 *                              a mapped value wins over an extra one of the same path)
 *
 *     SQL NULL of a mapped column writes no field (the forward transform maps missing and null alike to NULL; the
 *     legacy documents mostly omit absent values). The id, legacy id and extra columns are never written as fields.
 *     Values that cannot be written as asked (a uuid id_map does not know, a bson type the value cannot take) are
 *     written the plain sink's way and noted (MappingNotes), never dropped.
 */
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <bson/bson.h>

#include "decode/change.hpp"
#include "mapping/mapping.hpp"
#include "sink/mongo_bson.hpp"

namespace mosta::mapping {

// One column of a row: its value as the decoded change gives it (sidecar::Value) and its PostgreSQL type as
// format_type prints it ("" when unknown: mapped by the value's JSON form).
struct RowColumn {
	std::string_view name;
	sidecar::Value value;
	std::string_view type;
};
using Row = std::vector<RowColumn>;

// FindRowColumn returns the column called name in row, or null.
const RowColumn *FindRowColumn(const Row &row, std::string_view name) noexcept;

// LegacyIdOf returns the legacy id mosta.id_map holds for uuid in collection (collection = the id_map collection),
// or nullopt when id_map has none.
using LegacyIdOf = std::function<std::optional<std::string>(const std::string &collection, const std::string &uuid)>;

// AppendLegacyId appends the legacy id text as field: ObjectId when it is 24 hex digits, else the string.
void AppendLegacyId(bson_t *doc, std::string_view field, const std::string &legacy_id);

// UuidText returns the text of a uuid column's value, or nullopt when it is NULL or not a string.
std::optional<std::string> UuidText(const sidecar::Value &value);

// ReverseDocument returns the legacy document of row (a row of collection's table): _id first, then the mapped
// fields, the child arrays (children[i]: the rows of collection.children[i] in position order; fewer entries than
// children: those arrays are left out) and the extra fields. Throws std::runtime_error when the row has no legacy
// id.
sidecar::BsonHandle ReverseDocument(const CollectionMap &collection, const Row &row,
									const std::vector<std::vector<Row>> &children, const LegacyIdOf &legacy_id_of,
									sidecar::MappingNotes &notes);

// AppendReverseArray appends child's array (rows in position order) under field.
void AppendReverseArray(bson_t *doc, std::string_view field, const ChildMap &child, const std::vector<Row> &rows,
						const LegacyIdOf &legacy_id_of, sidecar::MappingNotes &notes);

// ReverseLegacyId returns the legacy id of a collection row: its legacy id column, else (a delete's old image holds
// the key only) id_map's legacy id of its id column. nullopt when neither is known.
std::optional<std::string> ReverseLegacyId(const CollectionMap &collection, const Row &row,
										   const LegacyIdOf &legacy_id_of);

// FindChildTable returns the collection and child index of a child table, or {nullptr, 0}.
struct ChildOf {
	const CollectionMap *collection = nullptr;
	std::size_t index = 0;
};
ChildOf FindChildTable(const Mapping &mapping, std::string_view table) noexcept;

// FindCollectionTable returns the collection whose own table is table, or nullptr.
const CollectionMap *FindCollectionTable(const Mapping &mapping, std::string_view table) noexcept;

// ChildPath returns the path of the field that holds collection.children[index] ("items").
const std::string &ChildPath(const CollectionMap &collection, std::size_t index);

} // namespace mosta::mapping
