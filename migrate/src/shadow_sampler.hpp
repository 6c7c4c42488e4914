/*
 * shadow_sampler.hpp
 *     ShadowSampler: the shadow-read sampler of `mosta-migrate shadow` (docs/migration.md, "shadow reads"). Each
 *     round it picks random keys per collection (MongoDB's $sample, or a random skip where the server has no
 *     $sample; one key per round from PostgreSQL too, so a row whose document is gone is found), reads the document
 *     and the rows of the same legacy id, and compares them (shadow_compare.hpp).
 *
 *     Writes racing the sampler: the catch-up may apply a change between the two reads, so a key that differs is
 *     read again on both sides after the re-check delay (bounded: --recheck-ms, default 500 ms) and counts as a
 *     mismatch only if it still differs; a key gone from both sides meanwhile is not counted at all.
 *
 *     Each round commits, in one transaction, an activity row per mismatch (mosta.activity, action
 *     'migration_shadow_mismatch', object "collection:legacy_id", detail: column names and value lengths, never
 *     values) and the counters of mosta_migration.shadow (checked, mismatches, errors; clean_since restarts at a
 *     mismatch), then rewrites the metrics file from the counters (shadow_metrics.hpp).
 */
#pragma once

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "shadow_compare.hpp"
#include "shadow_metrics.hpp"
#include "sink/pg_session.hpp"

namespace mosta::migrate {

struct ShadowOptions {
	int samples_per_round = 10;
	std::chrono::milliseconds interval{1000};
	std::optional<std::chrono::seconds> duration; // none: until SIGINT/SIGTERM
	std::chrono::milliseconds recheck{500};
	std::string metrics_file; // empty: none
	// --keys: check exactly these (collection, legacy id) once instead of sampling
	std::vector<std::pair<std::string, std::string>> keys;
};

// What one run found (the counters of this run only).
struct ShadowTotals {
	long long rounds = 0;
	long long checked = 0;
	long long mismatches = 0;
	long long errors = 0;
};

class ShadowSampler {
  public:
	ShadowSampler(const mapping::Mapping &mapping, MongoSource &source, sidecar::PgSession &session,
				  const std::vector<const mapping::CollectionMap *> &collections, ShadowOptions options);

	// Run samples round after round until the duration is over or a stop is requested (with --keys: one round);
	// returns this run's totals. Throws when a side cannot be reached at all (a single key that cannot be read is
	// an error counted, not thrown).
	ShadowTotals Run();

  private:
	struct Sampled {
		const mapping::CollectionMap *map;
		std::vector<ComparedTable> tables;
		std::vector<std::string> keys; // --keys of this collection
	};
	struct RoundResult {
		long long checked = 0, mismatches = 0, errors = 0;
		std::string last_key;
		std::vector<std::pair<std::string, std::string>> activities; // (object, detail json)
	};
	enum class Outcome { Clean, Mismatch, Gone, Error };

	void Round(ShadowTotals &totals);
	std::vector<std::string> PickKeys(const Sampled &sampled);
	std::vector<std::string> PickMongoKeys(const Sampled &sampled, int count);
	std::optional<std::string> PickPgKey(const Sampled &sampled);
	DocumentSide ReadMongo(const Sampled &sampled, const std::string &legacy_id);
	DocumentSide ReadPg(const Sampled &sampled, const std::string &legacy_id);
	Outcome Check(const Sampled &sampled, const std::string &legacy_id, std::vector<ShadowDifference> &differences);
	ShadowCounters Record(const Sampled &sampled, const RoundResult &result);
	void WriteMetrics();

	const mapping::Mapping &mapping_;
	MongoSource &source_;
	sidecar::PgSession &session_;
	ShadowOptions options_;
	std::vector<Sampled> sampled_;
	std::vector<ShadowCounters> counters_;
	bool use_skip_ = false; // the server refused $sample
	std::mt19937_64 random_;
};

} // namespace mosta::migrate
