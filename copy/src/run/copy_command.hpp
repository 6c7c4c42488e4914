/*
 * copy_command.hpp
 *     One run of mosta-copy's copy, as cron runs it: dated names (--keep), stale temporaries removed, the source
 *     opened and the tables selected, the pipeline (run/copy_run), the manifest written last, old dated backups
 *     removed, and one summary line on stderr:
 *       mosta-copy: ok: 12 tables, 1000000 rows, 3 destinations, 512.0 MB read in 4.2 s (snapshot 0/16B3748)
 *       mosta-copy: FAILED: <reason>
 *     Exit status: 0 success, 1 failure (or stopped by a signal), 2 usage (a --schemas entity or --tables glob
 *     naming no table, an unreadable --schemas).
 */
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

#include "io/destination.hpp"
#include "io/source.hpp"
#include "run/options.hpp"

namespace mosta::copy {

// How a run makes its source and destinations: io/open.hpp's by default; tests give fakes.
struct EndpointFactory {
	std::function<std::unique_ptr<Source>(const Endpoint &, int jobs)> source;
	std::function<std::unique_ptr<Destination>(const Endpoint &, const DestinationOptions &)> destination;
};

// RunCopyCommand runs the copy options describe and returns the exit status; err receives the progress and the
// summary (masked). stop: set by SIGINT/SIGTERM. now: the run's time (dated names, the manifest's "created").
int RunCopyCommand(const Options &options, std::FILE *err, const std::atomic<bool> *stop,
				   const EndpointFactory &factory = {},
				   std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

} // namespace mosta::copy
