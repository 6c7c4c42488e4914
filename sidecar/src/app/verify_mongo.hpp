/*
 * verify_mongo.hpp
 *     The MongoDB side of mosta-sidecar verify (docs/verification.md, "The MongoDB side"): reads every document of
 *     a rule's collection, turns each field back into the canonical text of the source column (the inverse of
 *     sink/mongo_bson's mapping, led by the source column's PostgreSQL type) and computes the same canonical
 *     checksum and per-key row hashes as mosta_checksum and mosta.row_hashes do on the source.
 *
 *       int32, int64 → decimal (a float column: PostgreSQL's float text); Decimal128 → numeric's plain text with the
 *       stored scale (exponent forms such as "1.00E+3" normalised: "1000"); double → PostgreSQL's float8 text
 *       (float4 for real); bool → true/false; date → the timestamptz ("…+00:00"), timestamp or date text as the
 *       output plugin writes it (milliseconds only: a source value with microseconds does not match); binary
 *       subtype 4 of a uuid column → the uuid text; other binary → \x hex; string → as is; embedded documents and
 *       arrays of a jsonb column → jsonb's text ({"a": 1, "b": [1, "x"]}); arrays of an array column → the plugin's
 *       compact JSON ([1,null,3], ["1.50"]); null or a missing field → NULL.
 *
 *     Field names are un-escaped (U+FF0E → '.', a leading U+FF04 → '$'). The key text of a document comes from its
 *     _id: a one-column key is the _id itself, a composite key the _id document's fields in key order.
 *
 *     json columns (not jsonb) keep the source's text as typed (spacing, key order, duplicate keys), which BSON
 *     does not hold: verify leaves them out of both sides (MongoVerifyExcluded) and says so.
 */
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <bson/bson.h>
#include <mongoc/mongoc.h>

namespace mosta::sidecar {

// MongoVerifyError is a failure to reach or read the MongoDB target.
class MongoVerifyError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// A source column: its name and its base type as format_type(type, NULL) prints it ("integer", "numeric",
// "timestamp with time zone", "integer[]", "jsonb").
struct VerifyColumn {
	std::string name;
	std::string type;
};

// What verify computed for one collection on a target.
struct VerifyTargetRows {
	bool exists = false;
	long long rows = 0;
	std::string checksum;
	std::map<std::string, std::string> hashes; // key text -> row hash, when the source has a key
	// key text -> canonical values (in the columns' order) of the rows whose key was asked for
	std::map<std::string, std::vector<std::optional<std::string>>> values;
};

// MongoVerifyExcluded tells whether a column of this type is left out of a MongoDB comparison (json, json[]).
bool MongoVerifyExcluded(std::string_view type);

// BsonCanonicalText returns the canonical text of the value at iter for a source column of type type (nullopt for
// BSON null, undefined, or an absent value when iter is null).
std::optional<std::string> BsonCanonicalText(const bson_iter_t *iter, std::string_view type);

// UnescapeMongoFieldName undoes MongoFieldName: every U+FF0E becomes '.', a leading U+FF04 '$'.
std::string UnescapeMongoFieldName(std::string_view field);

// MongoDocumentRow computes the canonical encoding of doc for columns, and its key text (CanonicalKeyText of the
// _id read by key, empty key: "").
struct MongoRow {
	std::string encoded;
	std::string key;
	std::vector<std::optional<std::string>> values; // canonical values, in the columns' order
};
MongoRow MongoDocumentRow(const bson_t *doc, const std::vector<VerifyColumn> &columns,
						  const std::vector<std::string> &key);

// MappedMirrorMapping returns the mapping file a mapped mirror's URI names (its mosta_mapping option), "" for a plain
// replica; throws MongoVerifyError when the option is malformed.
std::string MappedMirrorMapping(const std::string &uri);

// MappedMirrorNotVerified says why verify (and resync) do not compare a mapped mirror: it holds the legacy collections
// in their legacy shape, not the rule's tables; mosta-migrate verify compares them through the mapping.
std::string MappedMirrorNotVerified(const std::string &mapping_path);

// MongoVerifyTarget is one MongoDB target opened for verify (a single client: verify is one-shot, on one thread).
class MongoVerifyTarget {
  public:
	// MongoVerifyTarget parses uri (the database: its path, else default_database) and pings the server; throws
	// MongoVerifyError, also for a mapped mirror (MappedMirrorNotVerified).
	MongoVerifyTarget(const std::string &uri, const std::string &default_database);
	MongoVerifyTarget(const MongoVerifyTarget &) = delete;
	MongoVerifyTarget &operator=(const MongoVerifyTarget &) = delete;

	const std::string &
	Database() const noexcept {
		return database_;
	}

	// Read counts and checksums the collection of schema.table (a missing collection reads as empty), keeping the
	// canonical values of the documents whose key text is in wanted; throws MongoVerifyError.
	VerifyTargetRows Read(const std::string &schema, const std::string &table, const std::vector<VerifyColumn> &columns,
						  const std::vector<std::string> &key, const std::set<std::string> &wanted = {});

  private:
	struct ClientDeleter {
		void
		operator()(mongoc_client_t *client) const noexcept {
			mongoc_client_destroy(client);
		}
	};
	struct UriDeleter {
		void
		operator()(mongoc_uri_t *uri) const noexcept {
			mongoc_uri_destroy(uri);
		}
	};

	std::string database_;
	std::unique_ptr<mongoc_uri_t, UriDeleter> uri_;
	std::unique_ptr<mongoc_client_t, ClientDeleter> client_;
};

} // namespace mosta::sidecar
