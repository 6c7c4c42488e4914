/*
 * mongo_bson.hpp
 *     Change → BSON for the MongoDB sink, as pure functions (libbson only, no server): collection names, field
 *     names, the _id of a row, and each column value by its PostgreSQL type (the change's RelationSchema). The
 *     mapping is documented in docs/mongodb.md; in short:
 *
 *       smallint, integer → int32; bigint, oid → int64; numeric → Decimal128 when it fits (at most 34 significant
 *       digits and in Decimal128's exponent range), else the exact string (noted); real, double precision → double
 *       ("NaN", "Infinity" included); boolean → bool; timestamp, timestamptz → date (UTC milliseconds, sub-
 *       millisecond digits truncated: noted when non-zero); date → date at 00:00 UTC; infinite timestamps and
 *       dates → the string "infinity"/"-infinity" (noted); uuid → binary subtype 4; bytea → binary subtype 0;
 *       json, jsonb → embedded documents and arrays (numbers: int32, int64, else double), from the JSON text format
 *       version 2 sends (a JSON null is BSON null; SQL NULL of a json or jsonb column is no field at all, see
 *       MongoOmitsColumn; in json[]/jsonb[] both are BSON null elements); arrays → arrays, each
 *       element mapped by the element type; everything else (text, enums, intervals, ...) → its text; a value
 *       whose type is unknown (no "types") → by its JSON form.
 *
 *     Field names: a '.' becomes U+FF0E "．" and a leading '$' U+FF04 "＄" (column names and json keys alike); a
 *     name holding NUL is refused.
 *
 *     _id: a one-column key → that column's mapped value; a composite key → an embedded document of the key
 *     columns in key order. A keyless table is refused (std::runtime_error naming the table).
 */
#pragma once

#include <map>
#include <memory>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <bson/bson.h>

#include "decode/change.hpp"

namespace mosta::sidecar {

// BsonHandle owns a bson_t made by bson_new (bson_destroy when destroyed). A class rather than a unique_ptr:
// bson_t carries an alignment attribute that template arguments drop.
class BsonHandle {
  public:
	BsonHandle() noexcept = default;
	explicit BsonHandle(bson_t *doc) noexcept : doc_(doc) {}
	~BsonHandle() {
		if (doc_ != nullptr)
			bson_destroy(doc_);
	}
	BsonHandle(BsonHandle &&other) noexcept : doc_(std::exchange(other.doc_, nullptr)) {}
	BsonHandle &
	operator=(BsonHandle &&other) noexcept {
		if (this != &other) {
			if (doc_ != nullptr)
				bson_destroy(doc_);
			doc_ = std::exchange(other.doc_, nullptr);
		}
		return *this;
	}
	BsonHandle(const BsonHandle &) = delete;
	BsonHandle &operator=(const BsonHandle &) = delete;

	bson_t *
	get() const noexcept {
		return doc_;
	}
	explicit operator bool() const noexcept {
		return doc_ != nullptr;
	}

  private:
	bson_t *doc_ = nullptr;
};

// NewBson returns an empty document.
BsonHandle NewBson();

// A value that could not be mapped without loss: which column and why ("numeric kept as a string: ...").
struct MappingNote {
	std::string column;
	std::string what;
};
using MappingNotes = std::vector<MappingNote>;

// MongoCollectionName returns the collection of a source table: "table" for schema public, else "schema.table".
std::string MongoCollectionName(std::string_view schema, std::string_view table);

// MongoFieldName escapes a column name or json key: '.' → U+FF0E, a leading '$' → U+FF04; throws
// std::invalid_argument on NUL.
std::string MongoFieldName(std::string_view name);

// AppendMongoValue appends value under field (already escaped) mapped by the PostgreSQL type name type (as
// include-types writes it: "integer", "numeric(10,2)", "timestamp with time zone", "text[]", "public.mood"; empty
// when unknown). Lossy mappings are added to notes under column.
void AppendMongoValue(bson_t *doc, std::string_view field, const Value &value, std::string_view type,
					  std::string_view column, MappingNotes &notes);

// MongoOmitsColumn tells whether MongoRowDocument leaves column out: SQL NULL of a json or jsonb column (not an
// array), so that it differs from the JSON value null, which is BSON null. An update that writes with $set must
// $unset such a column.
bool MongoOmitsColumn(const Change &change, const Column &column);

// LegacyObjectId returns the legacy ObjectId (24 hex digits) id_map holds for the uuid key value of change's table,
// or nothing; the sink's resolver looks it up in mosta.id_map (docs/mongodb.md, "_id").
using LegacyObjectId = std::function<std::optional<std::string>(const Change &change, const std::string &uuid)>;

// AppendMongoId appends "_id" for the key columns of change, taken from row (the image holding the key: "new" for
// inserts and updates, "old" for deletes and for the old key of an update); a one-column uuid key that legacy
// resolves becomes that ObjectId. Throws std::runtime_error when the table has no key or a key column is missing
// from row.
void AppendMongoId(bson_t *doc, const Change &change, const std::vector<Column> &row, MappingNotes &notes,
				   const LegacyObjectId &legacy = {});

// MongoIdFilter returns {_id: ...} for the key of row.
BsonHandle MongoIdFilter(const Change &change, const std::vector<Column> &row, MappingNotes &notes,
						 const LegacyObjectId &legacy = {});

// MongoRowDocument returns {_id: key, <every column of row but those MongoOmitsColumn leaves out>}; a column named
// "_id" is the key itself when it is the one key column, and is refused otherwise.
BsonHandle MongoRowDocument(const Change &change, const std::vector<Column> &row, MappingNotes &notes,
							const LegacyObjectId &legacy = {});

// AppendMongoColumns appends the fields MongoRowDocument writes after _id: every column of row but those
// MongoOmitsColumn leaves out and the one-column key "_id" (already the _id); throws std::runtime_error for another
// column named "_id".
void AppendMongoColumns(bson_t *doc, const Change &change, const std::vector<Column> &row, MappingNotes &notes);

// AppendJsonAsBson parses json (an object or array text, as the plugin writes json and jsonb) and appends it under
// field as an embedded document or array (json keys escaped as field names); throws std::runtime_error when it is
// not valid JSON.
void AppendJsonAsBson(bson_t *doc, std::string_view field, std::string_view json);

// BsonToRelaxedJson returns doc as relaxed extended JSON (for logs and tests).
std::string BsonToRelaxedJson(const bson_t *doc);

} // namespace mosta::sidecar
