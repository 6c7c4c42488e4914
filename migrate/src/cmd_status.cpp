/*
 * cmd_status.cpp
 *     Placeholder: the command is being built (issue 16).
 */
#include "commands.hpp"

namespace mosta::migrate {

int
RunStatus(CommandLine &) {
	throw UsageError("not built yet");
}

} // namespace mosta::migrate
