/*
 * commands.hpp
 *     The commands of mosta-migrate (docs/migration.md has the runbook that strings them together). Each takes the
 *     parsed command line and returns the exit status: 0 success, 1 failure (or, for verify, a difference found),
 *     2 bad usage (they throw UsageError for that). Each lives in a cmd_*.cpp file of its own.
 */
#pragma once

#include "command_line.hpp"

namespace mosta::migrate {

int RunInfer(CommandLine &line);	// infer --source URI: print a starting mapping from a sample of documents
int RunCheck(CommandLine &line);	// check MAPPING: validate, print the load order
int RunSchema(CommandLine &line);	// schema MAPPING [--apply --target CONNINFO]: the tables, indexes and helpers
int RunBackfill(CommandLine &line); // backfill MAPPING --source URI --target CONNINFO
int RunStatus(CommandLine &line);	// status MAPPING --target CONNINFO: checkpoints, stream, problems, shadow
int RunFollow(CommandLine &line);	// follow MAPPING --source URI --target CONNINFO: the change-stream catch-up
int RunCutover(CommandLine &line);	// cutover MAPPING --target CONNINFO: drain the catch-up and stop it
int RunVerify(CommandLine &line);	// verify MAPPING --source URI --target CONNINFO: counts, checksums, sums
int RunShadow(CommandLine &line);	// shadow MAPPING --source URI --target CONNINFO: the shadow-read sampler

// StopRequested tells whether SIGINT or SIGTERM arrived (long commands stop at their next safe point); RequestStop
// (main's signal handler: async-signal-safe) records one and returns whether one had arrived already. In stop.cpp, so
// that the unit tests link the commands' code without main.
bool StopRequested() noexcept;
bool RequestStop() noexcept;

} // namespace mosta::migrate
