// query.hpp
//     The document-level semantics of mosta-test-mongod: query filters (equality on dotted paths,
//     $eq/$ne/$gt/$gte/$lt/$lte/$in/$nin/$exists/$not/$size, $and/$or/$nor), projections, sort
//     specifications, and updates (replacement documents; $set/$unset/$inc/$setOnInsert/$min/$max/
//     $push/$rename). Unsupported operators throw CommandError, as a real server would.
#pragma once

#include "bson_util.hpp"

#include <string>
#include <utility>
#include <vector>

namespace mosta::testmongod {

// The values a dotted path reaches in doc (arrays contribute themselves and their elements).
// They point into doc, which must outlive them.
std::vector<bson_value_t> ValuesAtPath(const bson_t *doc, const std::string &path);

bool Matches(const bson_t *doc, const bson_t *filter);

// Inclusion ({a: 1}) or exclusion ({a: 0}) projection of top-level or dotted fields; an empty
// or missing projection returns a copy.
BsonPtr Project(const bson_t *doc, const bson_t *projection);

using SortSpec = std::vector<std::pair<std::string, int>>;
SortSpec ParseSort(const bson_t *sort);
// Negative, zero or positive, like strcmp.
int CompareForSort(const bson_t *a, const bson_t *b, const SortSpec &spec);

bool IsOperatorUpdate(const bson_t *update);
// The document after applying update (operators or a replacement) to old; _id never changes.
BsonPtr ApplyUpdate(const bson_t *old, const bson_t *update, bool inserting);
// The document an upsert inserts: the filter's equality fields, then the update; _id first.
BsonPtr UpsertDocument(const bson_t *filter, const bson_t *update);
// doc with _id as its first field, generating an ObjectId when it has none.
BsonPtr WithIdFirst(const bson_t *doc);
// doc with the value at path replaced (or removed when value is null).
BsonPtr SetPath(const bson_t *doc, const std::string &path, const bson_value_t *value);

} // namespace mosta::testmongod
