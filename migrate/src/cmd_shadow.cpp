/*
 * cmd_shadow.cpp
 *     mosta-migrate shadow MAPPING --source URI --target CONNINFO [--interval-ms N] [--samples-per-round N]
 *     [--duration S] [--recheck-ms N] [--metrics-file F] [--collections A,B] [--keys C:ID,...]: the shadow-read
 *     sampler (shadow_sampler.hpp). Runs until --duration is over or SIGINT/SIGTERM (with --keys: checks those keys
 *     once). Exits 0 when this run found no mismatch, 1 when it found one (the counters and the activity log keep
 *     the history across runs).
 */
#include <cstdio>

#include "commands.hpp"
#include "shadow_keys.hpp"
#include "shadow_sampler.hpp"
#include "state.hpp"
#include "verify_select.hpp"

namespace mosta::migrate {

namespace {

constexpr long long kDefaultIntervalMs = 1000;
constexpr long long kDefaultSamples = 10;
constexpr long long kDefaultRecheckMs = 500;
constexpr long long kMaxRecheckMs = 60000;

} // namespace

int
RunShadow(CommandLine &line) {
	const std::string path = line.Positional(0, "MAPPING");
	const std::string source_uri = line.Required("source");
	const std::string target = line.Required("target");
	ShadowOptions options;
	options.interval = std::chrono::milliseconds(line.Number("interval-ms", kDefaultIntervalMs, 0, 86400000));
	options.samples_per_round = static_cast<int>(line.Number("samples-per-round", kDefaultSamples, 1, 100000));
	if (std::optional<std::string> duration = line.Option("duration"))
		options.duration = std::chrono::seconds(line.Number("duration", 0, 0, 100LL * 365 * 86400));
	options.recheck = std::chrono::milliseconds(line.Number("recheck-ms", kDefaultRecheckMs, 0, kMaxRecheckMs));
	options.metrics_file = line.Option("metrics-file").value_or("");
	const std::optional<std::string> only = line.Option("collections");
	if (std::optional<std::string> keys = line.Option("keys"))
		options.keys = ParseShadowKeys(*keys);
	line.Finish();

	const mapping::Mapping mapping = mapping::LoadMapping(path);
	std::vector<const mapping::CollectionMap *> collections = SelectCollections(mapping, only);
	MongoSource source(source_uri, mapping.source_database);
	sidecar::PgSession session(target);
	EnsureState(session);
	ShadowSampler sampler(mapping, source, session, collections, options);
	ShadowTotals totals = sampler.Run();
	std::printf("shadow %s: %lld key(s) checked in %lld round(s): %lld mismatch(es), %lld error(s)\n",
				mapping.name.c_str(), totals.checked, totals.rounds, totals.mismatches, totals.errors);
	std::fflush(stdout);
	return totals.mismatches == 0 && totals.errors == 0 ? 0 : 1;
}

} // namespace mosta::migrate
