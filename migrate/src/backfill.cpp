/*
 * backfill.cpp
 *     BackfillCollection, RetryMissingParents, SeedCounters (backfill.hpp).
 */
#include "backfill.hpp"

#include <set>

#include "apply_problems.hpp"
#include "backfill_reader.hpp"
#include "commands.hpp"
#include "legacy_id.hpp"
#include "mosta/common/identifiers.hpp"
#include "pg/errors.hpp"
#include "sink/mongo_bson.hpp"

namespace mosta::migrate {

namespace {

using sidecar::BsonHandle;

struct Checkpoint {
	std::optional<std::string> last_id;
	std::int64_t documents = 0;
	bool done = false;
};

Checkpoint
ReadCheckpoint(sidecar::PgSession &session, const std::string &mapping, const std::string &collection) {
	sidecar::PgResultHandle result =
		session.Query("SELECT last_id, documents, done FROM mosta_migration.checkpoints WHERE mapping = $1 AND "
					  "collection = $2",
					  {mapping.c_str(), collection.c_str()}, "reading the checkpoint of " + collection);
	Checkpoint checkpoint;
	if (PQntuples(result.get()) == 1) {
		if (!PQgetisnull(result.get(), 0, 0))
			checkpoint.last_id = PQgetvalue(result.get(), 0, 0);
		checkpoint.documents = std::stoll(PQgetvalue(result.get(), 0, 1));
		checkpoint.done = PQgetvalue(result.get(), 0, 2)[0] == 't';
	}
	return checkpoint;
}

// Transaction runs work in one transaction (rolled back when it throws).
template <typename Work>
void
Transaction(sidecar::PgSession &session, Work work) {
	session.Exec("BEGIN", "starting a transaction");
	try {
		work();
		session.Exec("COMMIT", "committing a batch");
	} catch (...) {
		session.TryExec("ROLLBACK");
		throw;
	}
}

// AppliedTransaction is Transaction for work that applies documents: applier learns whether they committed.
template <typename Work>
void
AppliedTransaction(sidecar::PgSession &session, Applier &applier, Work work) {
	try {
		Transaction(session, work);
	} catch (...) {
		applier.Forget();
		throw;
	}
	applier.Committed();
}

} // namespace

CollectionRun
BackfillCollection(sidecar::PgSession &session, Applier &applier, MongoSource &source, const mapping::Mapping &mapping,
				   const mapping::CollectionMap &collection, const BackfillOptions &options, Progress &progress) {
	CollectionRun run;
	run.collection = collection.collection;
	const char *name = mapping.name.c_str(), *coll = collection.collection.c_str();
	Checkpoint checkpoint = ReadCheckpoint(session, mapping.name, collection.collection);
	if (checkpoint.done && !options.again) {
		run.skipped = run.finished = true;
		return run;
	}
	if (options.again) {
		session.Query("INSERT INTO mosta_migration.checkpoints (mapping, collection) VALUES ($1, $2) ON CONFLICT"
					  " (mapping, collection) DO UPDATE SET last_id = NULL, documents = 0, done = false, started_at ="
					  " now(), updated_at = now(), finished_at = NULL",
					  {name, coll}, "resetting the checkpoint of " + collection.collection);
		checkpoint = Checkpoint{};
	}
	progress.Start(collection.collection, checkpoint.documents);
	BatchReader reader(source, mapping, collection, checkpoint.last_id, options.batch);
	using Clock = std::chrono::steady_clock;
	auto seconds = [](Clock::time_point from, Clock::time_point to) {
		return std::chrono::duration<double>(to - from).count();
	};
	for (;;) {
		ReadBatch batch;
		Clock::time_point wait = Clock::now();
		bool got = reader.Next(batch);
		Clock::time_point write = Clock::now();
		run.wait_seconds += seconds(wait, write);
		if (!got)
			break;
		run.read_seconds += batch.read_seconds;
		run.map_seconds += batch.map_seconds;
		ApplyCounts counts;
		std::string count = std::to_string(batch.docs.size());
		AppliedTransaction(session, applier, [&] {
			// a batch commits with its checkpoint: one lost in a crash is read again, so no wait for the WAL flush
			// (the collection's "done", committed synchronously, flushes them all)
			session.Exec("SET LOCAL synchronous_commit = off", "setting synchronous_commit");
			counts = applier.Upsert(collection, batch.docs);
			session.Query("INSERT INTO mosta_migration.checkpoints AS c (mapping, collection, last_id, documents)"
						  " VALUES ($1, $2, $3, $4) ON CONFLICT (mapping, collection) DO UPDATE SET last_id ="
						  " excluded.last_id, documents = c.documents + excluded.documents, updated_at = now()",
						  {name, coll, batch.last_id.c_str(), count.c_str()},
						  "recording the checkpoint of " + collection.collection);
		});
		run.write_seconds += seconds(write, Clock::now());
		run.read += static_cast<std::int64_t>(batch.docs.size());
		run.counts += counts;
		progress.Add(static_cast<std::int64_t>(batch.docs.size()), counts);
		if (StopRequested()) {
			progress.Finish();
			return run;
		}
	}
	session.Query("INSERT INTO mosta_migration.checkpoints (mapping, collection, done, finished_at) VALUES ($1, $2,"
				  " true, now()) ON CONFLICT (mapping, collection) DO UPDATE SET done = true, finished_at = now(),"
				  " updated_at = now()",
				  {name, coll}, "marking collection " + collection.collection + " done");
	progress.Finish();
	run.finished = true;
	return run;
}

namespace {

// MissingParentIds returns the legacy ids of collection held back for a missing parent.
std::vector<std::string>
MissingParentIds(sidecar::PgSession &session, const std::string &mapping, const std::string &collection) {
	sidecar::PgResultHandle result = session.Query(
		"SELECT DISTINCT legacy_id FROM mosta_migration.problems WHERE mapping = $1 AND collection = $2 AND kind ="
		" 'missing_parent' ORDER BY 1",
		{mapping.c_str(), collection.c_str()}, "reading the documents held back");
	std::vector<std::string> ids;
	for (int i = 0; i < PQntuples(result.get()); ++i)
		ids.emplace_back(PQgetvalue(result.get(), i, 0));
	return ids;
}

// ReadByIds returns the mapped documents of collection whose legacy ids are in ids.
std::vector<mapping::MappedDocument>
ReadByIds(MongoSource &source, const mapping::Mapping &mapping, const mapping::CollectionMap &collection,
		  const std::vector<std::string> &ids) {
	BsonHandle filter(bson_new());
	bson_t id;
	BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "_id", &id);
	BsonHandle candidates = LegacyIdCandidates(ids);
	BSON_APPEND_ARRAY(&id, "$in", candidates.get());
	bson_append_document_end(filter.get(), &id);
	BsonHandle opts(NewFindOptions(static_cast<std::int64_t>(ids.size())));
	MongoCollection handle = source.Collection(collection.collection);
	MongoCursor cursor(mongoc_collection_find_with_opts(handle.get(), filter.get(), opts.get(), nullptr));
	std::set<std::string> wanted(ids.begin(), ids.end());
	std::vector<mapping::MappedDocument> docs;
	const bson_t *doc = nullptr;
	while (mongoc_cursor_next(cursor.get(), &doc)) {
		mapping::MappedDocument mapped = TransformOrReject(mapping, collection, doc);
		if (wanted.count(mapped.legacy_id) != 0)
			docs.push_back(std::move(mapped));
	}
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		source.Fail("reading collection " + collection.collection, error);
	return docs;
}

} // namespace

ApplyCounts
RetryMissingParents(sidecar::PgSession &session, Applier &applier, MongoSource &source, const mapping::Mapping &mapping,
					const std::vector<const mapping::CollectionMap *> &order, std::int64_t batch) {
	ApplyCounts total;
	for (;;) {
		ApplyCounts pass;
		for (const mapping::CollectionMap *collection : order) {
			std::vector<std::string> ids = MissingParentIds(session, mapping.name, collection->collection);
			for (std::size_t from = 0; from < ids.size() && !StopRequested(); from += static_cast<std::size_t>(batch)) {
				std::vector<std::string> chunk(ids.begin() + static_cast<std::ptrdiff_t>(from),
											   ids.begin() + static_cast<std::ptrdiff_t>(std::min(
																 ids.size(), from + static_cast<std::size_t>(batch))));
				std::vector<mapping::MappedDocument> docs = ReadByIds(source, mapping, *collection, chunk);
				AppliedTransaction(session, applier, [&] { pass += applier.Upsert(*collection, docs); });
			}
		}
		total += pass;
		// another pass only helps when this one wrote a parent some held-back document may wait for
		if (pass.applied + pass.unchanged == 0 || pass.missing_parent == 0 || StopRequested())
			return total;
	}
}

std::int64_t
SeedCounters(sidecar::PgSession &session, const mapping::Mapping &mapping) {
	if (mapping.counters.empty())
		return 0;
	sidecar::PgResultHandle exists =
		session.Query("SELECT to_regprocedure('mosta_seed_counter(text,text,bigint)') IS NOT NULL", {},
					  "looking for mosta_seed_counter");
	if (PQgetvalue(exists.get(), 0, 0)[0] != 't')
		return -1;
	std::int64_t seeded = 0;
	Transaction(session, [&] {
		for (const mapping::CounterMap &counter : mapping.counters) {
			const mapping::CollectionMap *collection = mapping.Find(counter.collection);
			if (collection == nullptr)
				throw mapping::MappingError("counter " + counter.scope + ": collection " + counter.collection +
											" is not in the mapping");
			std::string key, present, value = QuoteIdentifier(counter.value_column);
			for (const std::string &column : counter.key_columns) {
				key += (key.empty() ? "" : ", ") + QuoteIdentifier(column) + "::text";
				present += " AND " + QuoteIdentifier(column) + " IS NOT NULL";
			}
			std::string sql = "SELECT count(mosta_seed_counter($1, k, v)) FROM (SELECT concat_ws(':', " + key +
							  ") AS k, max(" + value + ")::bigint AS v FROM " +
							  QuoteQualifiedName(mapping.schema, collection->table) + " WHERE " + value +
							  " IS NOT NULL" + present + " GROUP BY 1) AS keys";
			sidecar::PgResultHandle result =
				session.Query(sql, {counter.scope.c_str()}, "seeding counter " + counter.scope);
			seeded += std::stoll(PQgetvalue(result.get(), 0, 0));
		}
	});
	return seeded;
}

} // namespace mosta::migrate
