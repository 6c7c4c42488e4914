/*
 * shadow_sampler.cpp
 *     ShadowSampler (shadow_sampler.hpp): picking keys, reading both sides of a key, the re-read rule, and the
 *     round's transaction (activity rows + counters).
 */
#include "shadow_sampler.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "command_line.hpp"
#include "commands.hpp"
#include "legacy_id.hpp"
#include "mapping/transform.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/identifiers.hpp"
#include "pg/errors.hpp"
#include "verify_checks.hpp"

namespace mosta::migrate {

namespace {

// kSleepStep is how often a wait looks at StopRequested.
constexpr std::chrono::milliseconds kSleepStep{50};
// kSampledPages is about how many pages of a table one PostgreSQL-side pick reads.
constexpr int kSampledPages = 4;

using Clock = std::chrono::steady_clock;

// SleepFor waits for span, returning early when a stop is requested.
void
SleepFor(std::chrono::milliseconds span) {
	const Clock::time_point until = Clock::now() + span;
	while (!StopRequested() && Clock::now() < until)
		std::this_thread::sleep_for(std::min<Clock::duration>(kSleepStep, until - Clock::now()));
}

std::optional<std::string>
IdOf(const bson_t *doc) {
	bson_iter_t iter;
	if (!bson_iter_init_find(&iter, doc, "_id"))
		return std::nullopt;
	return mapping::LegacyIdText(&iter);
}

} // namespace

ShadowSampler::ShadowSampler(const mapping::Mapping &mapping, MongoSource &source, sidecar::PgSession &session,
							 const std::vector<const mapping::CollectionMap *> &collections, ShadowOptions options)
	: mapping_(mapping), source_(source), session_(session), options_(std::move(options)),
	  random_(std::random_device{}()) {
	for (const mapping::CollectionMap *collection : collections) {
		Sampled sampled{collection, ComparedTables(mapping, *collection), {}};
		for (const auto &[name, legacy_id] : options_.keys)
			if (name == collection->collection)
				sampled.keys.push_back(legacy_id);
		if (!options_.keys.empty() && sampled.keys.empty())
			continue;
		sampled_.push_back(std::move(sampled));
		counters_.push_back({collection->collection, 0, 0, 0, 0});
	}
	for (const auto &[name, legacy_id] : options_.keys) {
		if (mapping.Find(name) == nullptr)
			throw UsageError("--keys: the mapping has no collection \"" + name + "\"");
		bool selected = false;
		for (const Sampled &sampled : sampled_)
			selected = selected || sampled.map->collection == name;
		if (!selected)
			throw UsageError("--keys: \"" + name + "\" is not among --collections");
	}
}

ShadowTotals
ShadowSampler::Run() {
	ShadowTotals totals;
	const Clock::time_point start = Clock::now();
	for (;;) {
		Round(totals);
		WriteMetrics();
		if (!options_.keys.empty() || StopRequested())
			break;
		if (options_.duration && Clock::now() - start + options_.interval >= *options_.duration)
			break;
		SleepFor(options_.interval);
		if (StopRequested())
			break;
	}
	return totals;
}

void
ShadowSampler::Round(ShadowTotals &totals) {
	++totals.rounds;
	for (std::size_t i = 0; i < sampled_.size(); ++i) {
		const Sampled &sampled = sampled_[i];
		RoundResult result;
		for (const std::string &legacy_id : PickKeys(sampled)) {
			std::vector<ShadowDifference> differences;
			Outcome outcome = Check(sampled, legacy_id, differences);
			if (outcome == Outcome::Gone)
				continue;
			++result.checked;
			if (outcome == Outcome::Error) {
				++result.errors;
				continue;
			}
			if (outcome == Outcome::Clean)
				continue;
			++result.mismatches;
			result.last_key = legacy_id;
			result.activities.emplace_back(
				sampled.map->collection + ":" + legacy_id,
				DifferencesJson(mapping_.name, sampled.map->collection, legacy_id, differences));
			for (const ShadowDifference &difference : differences)
				std::printf("shadow: mismatch %s:%s: %s\n", sampled.map->collection.c_str(), legacy_id.c_str(),
							DifferenceLine(difference).c_str());
			std::fflush(stdout);
		}
		totals.checked += result.checked;
		totals.mismatches += result.mismatches;
		totals.errors += result.errors;
		counters_[i] = Record(sampled, result);
	}
}

std::vector<std::string>
ShadowSampler::PickKeys(const Sampled &sampled) {
	if (!options_.keys.empty())
		return sampled.keys;
	std::vector<std::string> keys = PickMongoKeys(sampled, std::max(1, options_.samples_per_round - 1));
	if (std::optional<std::string> pg = PickPgKey(sampled))
		keys.push_back(*pg);
	return keys;
}

std::vector<std::string>
ShadowSampler::PickMongoKeys(const Sampled &sampled, int count) {
	std::vector<std::string> keys;
	MongoCollection collection = source_.Collection(sampled.map->collection);
	bson_error_t error;
	if (!use_skip_) {
		bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$sample", "{", "size", BCON_INT32(count), "}", "}", "{",
									"$project", "{", "_id", BCON_INT32(1), "}", "}", "]");
		MongoCursor cursor(
			mongoc_collection_aggregate(collection.get(), MONGOC_QUERY_NONE, pipeline, nullptr, nullptr));
		bson_destroy(pipeline);
		const bson_t *doc = nullptr;
		while (mongoc_cursor_next(cursor.get(), &doc))
			if (std::optional<std::string> id = IdOf(doc))
				keys.push_back(*id);
		if (!mongoc_cursor_error(cursor.get(), &error))
			return keys;
		// a server without $sample (mosta-test-mongod): a random skip from now on
		use_skip_ = true;
		keys.clear();
	}
	int64_t documents = mongoc_collection_estimated_document_count(collection.get(), nullptr, nullptr, nullptr, &error);
	if (documents < 0)
		source_.Fail("counting the documents of " + sampled.map->collection, error);
	for (int i = 0; i < count && documents > 0; ++i) {
		int64_t skip = static_cast<int64_t>(random_() % static_cast<std::uint64_t>(documents));
		bson_t filter = BSON_INITIALIZER;
		bson_t *opts =
			BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "skip", BCON_INT64(skip), "limit", BCON_INT64(1));
		MongoCursor cursor(mongoc_collection_find_with_opts(collection.get(), &filter, opts, nullptr));
		bson_destroy(&filter);
		bson_destroy(opts);
		const bson_t *doc = nullptr;
		if (mongoc_cursor_next(cursor.get(), &doc))
			if (std::optional<std::string> id = IdOf(doc))
				keys.push_back(*id);
		if (mongoc_cursor_error(cursor.get(), &error))
			source_.Fail("sampling " + sampled.map->collection, error);
	}
	return keys;
}

std::optional<std::string>
ShadowSampler::PickPgKey(const Sampled &sampled) {
	const std::string table = QuoteQualifiedName(mapping_.schema, sampled.map->table);
	const std::string legacy = QuoteIdentifier(sampled.map->legacy_id_column);
	// a few pages at random (TABLESAMPLE SYSTEM: no scan of a big table), then a random row of them; the whole
	// table when it is small; an OFFSET into the table when the sampled pages held no row (stale relpages)
	const std::string sampled_sql =
		"SELECT " + legacy + " FROM " + table + " TABLESAMPLE SYSTEM ((SELECT least(100, " +
		std::to_string(kSampledPages) +
		" * 100.0 / greatest(relpages, 1)) FROM pg_class WHERE oid = " + QuoteLiteral(table) +
		"::regclass)) ORDER BY random() LIMIT 1";
	sidecar::PgResultHandle result = session_.Query(sampled_sql, {}, "sampling " + table);
	if (PQntuples(result.get()) == 0)
		result = session_.Query("SELECT " + legacy + " FROM " + table +
									" OFFSET floor(random() * (SELECT count(*) FROM " + table + "))::bigint LIMIT 1",
								{}, "sampling " + table);
	if (PQntuples(result.get()) == 0)
		return std::nullopt;
	return std::string(PQgetvalue(result.get(), 0, 0));
}

DocumentSide
ShadowSampler::ReadMongo(const Sampled &sampled, const std::string &legacy_id) {
	DocumentSide side;
	side.tables.resize(sampled.tables.size());
	MongoCollection collection = source_.Collection(sampled.map->collection);
	bson_t filter = BSON_INITIALIZER;
	bson_t id;
	bson_t candidates;
	BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &id);
	BSON_APPEND_ARRAY_BEGIN(&id, "$in", &candidates);
	std::uint32_t index = 0;
	AppendLegacyIdCandidates(&candidates, index, legacy_id);
	bson_append_array_end(&id, &candidates);
	bson_append_document_end(&filter, &id);
	MongoCursor cursor(mongoc_collection_find_with_opts(collection.get(), &filter, nullptr, nullptr));
	bson_destroy(&filter);
	const bson_t *doc = nullptr;
	while (mongoc_cursor_next(cursor.get(), &doc)) {
		if (IdOf(doc) != legacy_id)
			continue;
		mapping::MappedDocument document = mapping::TransformDocument(mapping_, *sampled.map, doc);
		side.present = true;
		for (std::size_t t = 0; t < sampled.tables.size(); ++t)
			for (const mapping::MappedRow &row : RowsOf(document, t))
				side.tables[t][sampled.tables[t].Key(row)] = sampled.tables[t].Values(row);
		break;
	}
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		source_.Fail("reading " + sampled.map->collection + " " + legacy_id, error);
	return side;
}

DocumentSide
ShadowSampler::ReadPg(const Sampled &sampled, const std::string &legacy_id) {
	DocumentSide side;
	side.tables.resize(sampled.tables.size());
	for (std::size_t t = 0; t < sampled.tables.size(); ++t) {
		const ComparedTable &table = sampled.tables[t];
		sidecar::PgResultHandle result = session_.Query(table.RowsSql(table.DocumentWhere()), {legacy_id.c_str()},
														"reading " + table.Quoted() + " " + legacy_id);
		for (int r = 0; r < PQntuples(result.get()); ++r) {
			std::vector<std::optional<std::string>> values;
			for (std::size_t c = 0; c < table.Names().size(); ++c) {
				int field = static_cast<int>(c + 2);
				values.push_back(PQgetisnull(result.get(), r, field)
									 ? std::nullopt
									 : std::optional<std::string>(PQgetvalue(result.get(), r, field)));
			}
			side.tables[t][PQgetvalue(result.get(), r, 0)] = std::move(values);
		}
		if (t == 0)
			side.present = PQntuples(result.get()) > 0;
	}
	return side;
}

ShadowSampler::Outcome
ShadowSampler::Check(const Sampled &sampled, const std::string &legacy_id, std::vector<ShadowDifference> &differences) {
	try {
		ShadowOutcome outcome = RecheckedOutcome(
			sampled.tables,
			[&] {
				DocumentSide mongo = ReadMongo(sampled, legacy_id);
				return std::make_pair(std::move(mongo), ReadPg(sampled, legacy_id));
			},
			[&] { SleepFor(options_.recheck); }, options_.recheck.count() > 0, differences);
		return outcome == ShadowOutcome::Clean	? Outcome::Clean
			   : outcome == ShadowOutcome::Gone ? Outcome::Gone
												: Outcome::Mismatch;
	} catch (const sidecar::PgError &e) {
		if (!session_.Healthy())
			throw;
		std::fprintf(stderr, "shadow: %s:%s: %s\n", sampled.map->collection.c_str(), legacy_id.c_str(),
					 MaskCredentialsInText(e.what()).c_str());
	} catch (const mapping::MappingError &e) {
		std::fprintf(stderr, "shadow: %s:%s: %s\n", sampled.map->collection.c_str(), legacy_id.c_str(), e.what());
	}
	return Outcome::Error;
}

ShadowCounters
ShadowSampler::Record(const Sampled &sampled, const RoundResult &result) {
	const std::string &collection = sampled.map->collection;
	session_.Exec("BEGIN", "recording the shadow samples");
	for (const auto &[object, detail] : result.activities)
		session_.Query("INSERT INTO mosta.activity (action, project, object, detail) "
					   "VALUES ('migration_shadow_mismatch', $1, $2, $3::jsonb)",
					   {mapping_.name.c_str(), object.c_str(), detail.c_str()}, "recording a shadow mismatch");
	const std::string checked = std::to_string(result.checked);
	const std::string mismatches = std::to_string(result.mismatches);
	const std::string errors = std::to_string(result.errors);
	sidecar::PgResultHandle row = session_.Query(
		"INSERT INTO mosta_migration.shadow AS s (mapping, collection, checked, mismatches, errors, clean_since, "
		"  last_mismatch_at, last_mismatch_key) "
		"VALUES ($1, $2, $3, $4, $5, now(), CASE WHEN $4::bigint > 0 THEN now() END, $6) "
		"ON CONFLICT (mapping, collection) DO UPDATE SET checked = s.checked + EXCLUDED.checked, "
		"  mismatches = s.mismatches + EXCLUDED.mismatches, errors = s.errors + EXCLUDED.errors, "
		"  clean_since = CASE WHEN EXCLUDED.mismatches > 0 THEN now() ELSE coalesce(s.clean_since, now()) END, "
		"  last_mismatch_at = coalesce(EXCLUDED.last_mismatch_at, s.last_mismatch_at), "
		"  last_mismatch_key = coalesce(EXCLUDED.last_mismatch_key, s.last_mismatch_key), updated_at = now() "
		"RETURNING checked, mismatches, errors, extract(epoch FROM clock_timestamp() - clean_since)",
		{mapping_.name.c_str(), collection.c_str(), checked.c_str(), mismatches.c_str(), errors.c_str(),
		 result.last_key.empty() ? nullptr : result.last_key.c_str()},
		"recording the shadow counters");
	ShadowCounters counters{collection, std::atoll(PQgetvalue(row.get(), 0, 0)),
							std::atoll(PQgetvalue(row.get(), 0, 1)), std::atoll(PQgetvalue(row.get(), 0, 2)),
							std::atof(PQgetvalue(row.get(), 0, 3))};
	session_.Exec("COMMIT", "recording the shadow samples");
	return counters;
}

void
ShadowSampler::WriteMetrics() {
	if (!options_.metrics_file.empty())
		WriteFileAtomically(options_.metrics_file, MetricsText(mapping_.name, counters_));
}

} // namespace mosta::migrate
