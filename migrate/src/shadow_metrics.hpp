/*
 * shadow_metrics.hpp
 *     The shadow-read sampler's Prometheus metrics (text exposition format 0.0.4), written to --metrics-file
 *     atomically (a temporary file in the same directory, then rename) for node_exporter's textfile collector or
 *     any scraper that reads a file. The counters are mosta_migration.shadow's, so they only grow, across runs too:
 *       mosta_migrate_shadow_checks_total{mapping,collection}      keys compared
 *       mosta_migrate_shadow_mismatches_total{mapping,collection}  keys that differed (after the re-read)
 *       mosta_migrate_shadow_errors_total{mapping,collection}      keys that could not be read
 *       mosta_migrate_shadow_clean_window_seconds{mapping,collection}  seconds since the last mismatch (or since
 *                                                                   the first sample): the runbook's clean window
 */
#pragma once

#include <string>
#include <vector>

namespace mosta::migrate {

// One collection's counters, as mosta_migration.shadow holds them.
struct ShadowCounters {
	std::string collection;
	long long checked = 0;
	long long mismatches = 0;
	long long errors = 0;
	double clean_window_seconds = 0;
};

// MetricsText returns the exposition text of the counters of mapping.
std::string MetricsText(const std::string &mapping, const std::vector<ShadowCounters> &counters);

// WriteFileAtomically replaces path with text (path.tmp written, flushed, renamed); throws std::runtime_error
// naming the file.
void WriteFileAtomically(const std::string &path, const std::string &text);

} // namespace mosta::migrate
