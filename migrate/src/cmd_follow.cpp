/*
 * cmd_follow.cpp
 *     `mosta-migrate follow MAPPING --source URI --target CONNINFO [--until-caught-up] [--batch-ms N]
 *     [--reset-cutover]`: the change-stream catch-up (follow.hpp) from the position backfill recorded, until the
 *     cutover (or, with --until-caught-up, until the stream has nothing more). --reset-cutover clears a done cutover
 *     first (a rollback rehearsal follows MongoDB again).
 */
#include <cstdio>

#include "commands.hpp"
#include "follow.hpp"
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "sink/pg_session.hpp"
#include "state.hpp"

namespace mosta::migrate {

int
RunFollow(CommandLine &line) {
	const std::string path = line.Positional(0, "MAPPING");
	const std::string source_uri = line.Required("source");
	const std::string target = line.Required("target");
	FollowOptions options;
	options.until_caught_up = line.Flag("until-caught-up");
	options.batch_ms = static_cast<int>(line.Number("batch-ms", options.batch_ms, 10, 60000));
	options.reset_cutover = line.Flag("reset-cutover");
	line.Finish();

	mapping::Mapping mapping = mapping::LoadMapping(path);
	sidecar::PgSession session(target);
	EnsureState(session);
	MongoSource source(source_uri, mapping.source_database);
	FollowResult result = Follow(session, source, mapping, options);
	if (!result.stopped_at.empty())
		std::printf("follow %s: stopped for the cutover at %s: %lld events applied, position %s\n",
					mapping.name.c_str(), result.stopped_at.c_str(), static_cast<long long>(result.applied),
					result.position.c_str());
	else
		std::printf("follow %s: %s: %lld events applied, position %s\n", mapping.name.c_str(),
					result.stopped_by_signal ? "stopped by a signal" : "caught up",
					static_cast<long long>(result.applied), result.position.c_str());
	return 0;
}

} // namespace mosta::migrate
