/*
 * cmd_infer.cpp
 *     `mosta-migrate infer --source mongodb://HOST:PORT/DB [--collections A,B] [--sample N] [--name NAME]`: reads up
 *     to N documents of each collection (in _id order, so the same data gives the same mapping) and the collections'
 *     indexes, and prints a starting mapping (infer.hpp has the rules) that `check` accepts as it is; what it could
 *     not carry over (an index on an unmapped field, a partial filter it cannot translate) is said on stderr.
 */
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "commands.hpp"
#include "infer.hpp"
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "sink/mongo_bson.hpp" // BsonHandle

namespace mosta::migrate {

namespace {

constexpr long long kDefaultSample = 1000;
constexpr long long kMaxSample = 1000000;

using Bson = sidecar::BsonHandle;

std::vector<std::string>
SplitList(const std::string &text) {
	std::vector<std::string> out;
	std::size_t start = 0;
	while (start <= text.size()) {
		std::size_t comma = text.find(',', start);
		std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
		item.erase(0, item.find_first_not_of(' '));
		item.erase(item.find_last_not_of(' ') + 1);
		if (!item.empty())
			out.push_back(item);
		if (comma == std::string::npos)
			break;
		start = comma + 1;
	}
	return out;
}

// Collections returns the database's collections (not system.*), sorted.
std::vector<std::string>
Collections(const MongoSource &source) {
	mongoc_database_t *database = mongoc_client_get_database(source.Client(), source.Database().c_str());
	bson_error_t error;
	char **names = mongoc_database_get_collection_names_with_opts(database, nullptr, &error);
	mongoc_database_destroy(database);
	if (names == nullptr)
		source.Fail("listing the collections of " + source.Database(), error);
	std::vector<std::string> out;
	for (char **name = names; *name != nullptr; ++name)
		if (std::string(*name).rfind("system.", 0) != 0)
			out.push_back(*name);
	bson_strfreev(names);
	std::sort(out.begin(), out.end());
	return out;
}

void
Sample(const MongoSource &source, CollectionSample &sample, long long limit) {
	MongoCollection collection = source.Collection(sample.collection);
	Bson filter(bson_new());
	Bson opts(BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(limit)));
	MongoCursor cursor(mongoc_collection_find_with_opts(collection.get(), filter.get(), opts.get(), nullptr));
	const bson_t *document = nullptr;
	while (mongoc_cursor_next(cursor.get(), &document))
		sample.stats.Add(document);
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		source.Fail("reading documents of " + sample.collection, error);

	MongoCursor indexes(mongoc_collection_find_indexes_with_opts(collection.get(), nullptr));
	while (mongoc_cursor_next(indexes.get(), &document))
		sample.indexes.emplace_back(reinterpret_cast<const char *>(bson_get_data(document)), document->len);
	if (mongoc_cursor_error(indexes.get(), &error))
		source.Fail("listing the indexes of " + sample.collection, error);
}

// CountIds returns how many of ids (hex ObjectIds) are _ids of collection.
std::size_t
CountIds(const MongoSource &source, const std::string &collection_name, const std::vector<std::string> &ids) {
	Bson filter(bson_new());
	bson_t id;
	bson_t in;
	BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
	BSON_APPEND_ARRAY_BEGIN(&id, "$in", &in);
	for (std::size_t i = 0; i < ids.size(); ++i) {
		bson_oid_t oid;
		bson_oid_init_from_string(&oid, ids[i].c_str());
		BSON_APPEND_OID(&in, std::to_string(i).c_str(), &oid);
	}
	bson_append_array_end(&id, &in);
	bson_append_document_end(filter.get(), &id);
	Bson opts(BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}"));
	MongoCollection collection = source.Collection(collection_name);
	MongoCursor cursor(mongoc_collection_find_with_opts(collection.get(), filter.get(), opts.get(), nullptr));
	const bson_t *document = nullptr;
	std::size_t found = 0;
	while (mongoc_cursor_next(cursor.get(), &document))
		++found;
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		source.Fail("looking up ids in " + collection_name, error);
	return found;
}

} // namespace

int
RunInfer(CommandLine &line) {
	std::string uri = line.Required("source");
	std::optional<std::string> only = line.Option("collections");
	long long limit = line.Number("sample", kDefaultSample, 1, kMaxSample);
	std::optional<std::string> name = line.Option("name");
	line.Finish();
	if (line.PositionalCount() != 0)
		throw UsageError("infer takes no MAPPING: it prints one (redirect it to a file)");

	MongoSource source(uri, "");
	std::vector<std::string> existing = Collections(source);
	std::vector<std::string> names = only ? SplitList(*only) : existing;
	for (const std::string &collection : names)
		if (std::find(existing.begin(), existing.end(), collection) == existing.end())
			throw UsageError("--collections names \"" + collection + "\", which is not a collection of database " +
							 source.Database() + " (" + source.Masked() + ")");
	if (names.empty())
		throw std::runtime_error("database " + source.Database() + " (" + source.Masked() +
								 ") has no collection to infer a mapping from");
	std::string mapping_name = name ? *name : source.Database();

	std::vector<CollectionSample> samples(names.size());
	std::size_t documents = 0;
	for (std::size_t i = 0; i < names.size(); ++i) {
		samples[i].collection = names[i];
		Sample(source, samples[i], limit);
		documents += samples[i].stats.containers;
	}
	CountExisting count = [&](const std::string &collection, const std::vector<std::string> &ids) {
		return CountIds(source, collection, ids);
	};
	std::vector<std::string> notes;
	mapping::Mapping mapping = InferMapping(mapping_name, source.Database(), samples, count, notes);
	std::string text = MappingJson(mapping);
	// the promise: check accepts the output as it is
	mapping::Mapping reread = mapping::ParseMapping(text, "(inferred mapping)");
	mapping::LoadOrder(reread);

	for (const std::string &note : notes)
		std::fprintf(stderr, "mosta-migrate infer: note: %s\n", note.c_str());
	std::fprintf(stderr, "mosta-migrate infer: %zu documents sampled from %zu collections of %s (at most %lld each)\n",
				 documents, names.size(), source.Masked().c_str(), limit);
	std::fputs(text.c_str(), stdout);
	return 0;
}

} // namespace mosta::migrate
