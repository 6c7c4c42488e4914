/*
 * cmd_shadow.cpp
 *     Placeholder: the command is being built (issue 16).
 */
#include "commands.hpp"

namespace mosta::migrate {

int
RunShadow(CommandLine &) {
	throw UsageError("not built yet");
}

} // namespace mosta::migrate
