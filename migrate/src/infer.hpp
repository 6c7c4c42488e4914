/*
 * infer.hpp
 *     What `mosta-migrate infer` learns from a sample of documents and how it turns that into a starting mapping
 *     (docs/migration-mapping.md, "infer"). SampleStats counts, per field path, the BSON types seen, how often the
 *     field is present, the fields of subdocuments and of array elements, and a few ObjectId values (to find the
 *     collection a reference points at). InferCollection then decides each field: a typed column by the majority
 *     type, dotted paths for small regular subdocuments, jsonb for large or varying ones, references for ObjectIds,
 *     polymorphic references for ObjectIds mixed with strings, child tables for arrays of subdocuments or of
 *     ObjectIds, jsonb for other arrays; not_null when every sampled document holds a non-null value. Pure (no
 *     I/O): the command gives it a resolver that answers "which collection holds these ids".
 */
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <bson/bson.h>

#include "mapping/mapping.hpp"

namespace mosta::migrate {

struct LevelStats;

// What the sample held at one field of a document (or of an array element).
struct FieldStats {
	std::string name;
	std::size_t present = 0; // non-null values
	std::map<bson_type_t, std::size_t> types;
	std::unique_ptr<LevelStats> object; // the fields of its subdocument values
	std::map<bson_type_t, std::size_t> element_types;
	std::unique_ptr<LevelStats> elements; // the fields of its array elements that are subdocuments
	std::vector<std::string> object_ids;  // up to kObjectIdSamples ObjectId values (hex), of values and elements
};

// The fields seen in a set of documents (or subdocuments, or array elements), in the order first seen.
struct LevelStats {
	std::size_t containers = 0; // documents examined at this level
	std::vector<FieldStats> fields;
	std::map<std::string, std::size_t> index; // name → position in fields

	// Add counts the fields of document (recursively).
	void Add(const bson_t *document);
	const FieldStats *Find(const std::string &name) const;
};

// How many ObjectId values of a field are kept to find the collection they belong to.
constexpr std::size_t kObjectIdSamples = 20;

// A collection's sample and indexes, as the command read them.
struct CollectionSample {
	std::string collection;
	LevelStats stats;
	std::vector<std::string> indexes; // listIndexes' documents, as BSON bytes
};

// CountExisting returns how many of object_ids (hex) are _ids of collection: the command looks them up, so that a
// reference goes to the collection that holds its values (buyerId → users), not only to the one its name suggests.
using CountExisting =
	std::function<std::size_t(const std::string &collection, const std::vector<std::string> &object_ids)>;

// InferMapping builds a mapping named name for database from the samples: one collection map each, in the samples'
// order. A field holding ObjectIds references the collection holding most of its sampled values (ties: the one its
// name suggests, NameCandidates), else the one its name suggests, else none (a text column, "bson": "objectId").
// Notes (an index that could not be carried over, a reference cycle broken) go to notes. The result passes
// ParseMapping and LoadOrder.
mapping::Mapping InferMapping(const std::string &name, const std::string &database,
							  const std::vector<CollectionSample> &samples, const CountExisting &count,
							  std::vector<std::string> &notes);

// MappingJson writes mapping in the file format (docs/migration-mapping.md), one field or index per line, keys in a
// fixed order, defaults left out: what infer prints.
std::string MappingJson(const mapping::Mapping &mapping);

// NameCandidates returns the collection names a field's name suggests, best first ("buyerId" → buyer, buyers,
// ...; "offerIds" → offer, offers).
std::vector<std::string> NameCandidates(const std::string &field);

} // namespace mosta::migrate
