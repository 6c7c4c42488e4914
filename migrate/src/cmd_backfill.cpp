/*
 * cmd_backfill.cpp
 *     Placeholder: the command is being built (issue 16).
 */
#include "commands.hpp"

namespace mosta::migrate {

int
RunBackfill(CommandLine &) {
	throw UsageError("not built yet");
}

} // namespace mosta::migrate
