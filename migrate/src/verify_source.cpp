/*
 * verify_source.cpp
 *     The MongoDB side of verify (verify_checks.hpp): one pass over a collection's documents, each transformed
 *     (mapping/transform.hpp) and accumulated into the range checksums, relationship counts and sums; memory holds
 *     one document and the per-range states, whatever the collection's size.
 */
#include "verify_checks.hpp"

#include "verify_scan.hpp"

namespace mosta::migrate {

namespace {

// AddRelationRow counts row (compared values) in the relationships of its table.
void
AddRelationRow(TableCheck &table, const std::vector<std::optional<std::string>> &values) {
	for (RelationCount &relation : table.relations) {
		if (RelationCountsEveryRow(relation)) {
			++relation.mongo;
			continue;
		}
		const std::optional<std::string> &value = values[relation.column];
		if (value && (relation.kind.empty() || *value == relation.kind))
			++relation.mongo;
	}
}

// AddSumRow adds a collection row to the sums.
void
AddSumRow(CollectionCheck &check, const std::vector<std::optional<std::string>> &values) {
	for (SumCheck &sum : check.sums) {
		std::vector<std::optional<std::string>> group;
		for (std::size_t at : sum.group)
			group.push_back(values[at]);
		SumGroup &entry = sum.groups[CanonicalKeyText(group)];
		entry.values = group;
		++entry.mongo_rows;
		const std::optional<std::string> &amount = values[sum.amount];
		if (amount && !entry.mongo_total.Add(*amount))
			++sum.not_numbers;
	}
}

} // namespace

void
CountDocuments(MongoSource &source, CollectionCheck &check) {
	MongoCollection collection = source.Collection(check.collection->collection);
	bson_t filter = BSON_INITIALIZER;
	bson_error_t error;
	int64_t count = mongoc_collection_count_documents(collection.get(), &filter, nullptr, nullptr, nullptr, &error);
	bson_destroy(&filter);
	if (count < 0)
		source.Fail("counting the documents of " + check.collection->collection, error);
	check.mongo_documents = count;
}

void
ReadSourceSide(MongoSource &source, const mapping::Mapping &mapping, CollectionCheck &check) {
	for (TableCheck &table : check.tables)
		table.mongo_buckets.assign(static_cast<std::size_t>(table.buckets), ChecksumState{});
	ScanCollection(
		source, mapping, *check.collection,
		[&](const mapping::MappedDocument &document) {
			for (TableCheck &table : check.tables) {
				std::span<const mapping::MappedRow> rows = RowsOf(document, table.child_of);
				for (const mapping::MappedRow &row : rows) {
					std::vector<std::optional<std::string>> values = table.table.Values(row);
					Hash128 hash = table.table.RowHash(values);
					table.mongo_total.Add(hash);
					table
						.mongo_buckets[static_cast<std::size_t>(
							sidecar::KeyBucket(table.table.Key(row), table.buckets))]
						.Add(hash);
					AddRelationRow(table, values);
					if (table.child_of == 0)
						AddSumRow(check, values);
				}
			}
		},
		[&](const std::string &id) {
			++check.untransformable;
			if (check.untransformable_ids.size() < 10)
				check.untransformable_ids.push_back(id);
		});
	for (TableCheck &table : check.tables) {
		sidecar::BucketSums mongo;
		for (std::size_t b = 0; b < table.mongo_buckets.size(); ++b)
			if (table.mongo_buckets[b].rows != 0)
				mongo[static_cast<int>(b)] = {static_cast<long long>(table.mongo_buckets[b].rows),
											  table.mongo_buckets[b].Text()};
		table.differing = sidecar::DifferingBuckets(mongo, table.pg_buckets);
		// a range only PostgreSQL holds rows in
		for (const auto &[bucket, sum] : table.pg_buckets)
			if (mongo.count(bucket) == 0)
				table.differing.insert(bucket);
	}
}

} // namespace mosta::migrate
