/*
 * cmd_cutover.cpp
 *     Placeholder: the command is being built (issue 16).
 */
#include "commands.hpp"

namespace mosta::migrate {

int
RunCutover(CommandLine &) {
	throw UsageError("not built yet");
}

} // namespace mosta::migrate
