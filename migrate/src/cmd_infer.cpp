/*
 * cmd_infer.cpp
 *     Placeholder: the command is being built (issue 16).
 */
#include "commands.hpp"

namespace mosta::migrate {

int
RunInfer(CommandLine &) {
	throw UsageError("not built yet");
}

} // namespace mosta::migrate
