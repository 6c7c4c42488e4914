/*
 * cmd_cutover.cpp
 *     `mosta-migrate cutover MAPPING --target CONNINFO [--timeout S] [--source URI] [--batch-ms N]`: the runbook's
 *     "stop writing MongoDB, drain, switch". It marks mosta_migration.stream.cutover_requested_at; the running
 *     follower sees the mark in its next transaction, drains until a batch comes back empty, sets stopped_at and
 *     exits; cutover waits for stopped_at (polling, until the timeout) and prints the final position. When no
 *     follower runs (nobody holds the follower lock), cutover drains itself with the same code, reading MongoDB
 *     through --source.
 */
#include <chrono>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <thread>

#include "commands.hpp"
#include "follow.hpp"
#include "follow_state.hpp"
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "sink/pg_session.hpp"
#include "state.hpp"

namespace mosta::migrate {

namespace {

// kPollInterval is how often cutover looks at the stream row while the follower drains.
constexpr std::chrono::milliseconds kPollInterval{100};

int
Done(const mapping::Mapping &mapping, const StreamRow &row) {
	std::printf("cutover %s: done at %s: %lld events applied, final position %s\n", mapping.name.c_str(),
				row.stopped_at->c_str(), static_cast<long long>(row.applied), row.resume_token.c_str());
	return 0;
}

// DrainHere runs the drain in this process (no follower runs).
int
DrainHere(sidecar::PgSession &session, const mapping::Mapping &mapping, const std::optional<std::string> &source_uri,
		  int batch_ms) {
	if (!source_uri)
		throw std::runtime_error("no follower of mapping " + mapping.name +
								 " is running, and cutover cannot drain the change stream itself without --source "
								 "URI: run cutover again with --source (or start `mosta-migrate follow`); the cutover "
								 "mark stays set");
	std::fprintf(stderr, "mosta-migrate cutover %s: no follower is running: draining here\n", mapping.name.c_str());
	MongoSource source(*source_uri, mapping.source_database);
	FollowOptions options;
	options.command = "cutover";
	options.drain = true;
	options.batch_ms = batch_ms;
	FollowResult result = Follow(session, source, mapping, options);
	if (result.stopped_at.empty())
		throw std::runtime_error("the drain of mapping " + mapping.name +
								 " was interrupted before the stream came back empty: run cutover again");
	std::optional<StreamRow> row = ReadStream(session, mapping.name);
	return Done(mapping, *row);
}

} // namespace

int
RunCutover(CommandLine &line) {
	const std::string path = line.Positional(0, "MAPPING");
	const std::string target = line.Required("target");
	const long long timeout = line.Number("timeout", 60, 1, 86400);
	const std::optional<std::string> source_uri = line.Option("source");
	const int batch_ms = static_cast<int>(line.Number("batch-ms", FollowOptions{}.batch_ms, 10, 60000));
	line.Finish();

	mapping::Mapping mapping = mapping::LoadMapping(path);
	sidecar::PgSession session(target);
	EnsureState(session);
	std::optional<StreamRow> row = ReadStream(session, mapping.name);
	if (!row)
		throw std::runtime_error(NoStreamMessage(mapping.name));
	if (row->stopped_at) {
		std::printf("cutover %s: already done\n", mapping.name.c_str());
		return Done(mapping, *row);
	}
	StreamRow marked = RequestCutover(session, mapping.name);
	std::printf("cutover %s: requested at %s; waiting up to %lld s for the catch-up to drain\n", mapping.name.c_str(),
				marked.cutover_requested_at->c_str(), timeout);
	std::fflush(stdout);
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
	for (;;) {
		row = ReadStream(session, mapping.name);
		if (!row)
			throw std::runtime_error(NoStreamMessage(mapping.name));
		if (row->stopped_at)
			return Done(mapping, *row);
		if (TryFollowerLock(session, mapping.name)) {
			// no follower (any more): it may have finished between the two looks
			row = ReadStream(session, mapping.name);
			if (row && row->stopped_at)
				return Done(mapping, *row);
			return DrainHere(session, mapping, source_uri, batch_ms);
		}
		if (std::chrono::steady_clock::now() >= deadline || StopRequested())
			break;
		std::this_thread::sleep_for(kPollInterval);
	}
	if (StopRequested())
		throw std::runtime_error("interrupted while the follower of mapping " + mapping.name +
								 " drains: the cutover mark stays set (the follower still stops once drained); run "
								 "cutover again to wait for it");
	throw std::runtime_error("the follower of mapping " + mapping.name + " has not finished draining after " +
							 std::to_string(timeout) + " s (position " + row->resume_token + ", " +
							 std::to_string(row->applied) +
							 " events applied): is MongoDB still being written? The cutover mark stays set: run "
							 "cutover again to keep waiting");
}

} // namespace mosta::migrate
