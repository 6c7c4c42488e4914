/*
 * log.cpp
 *     MonitorLog (see log.hpp).
 */
#include "log.hpp"

#include <cstdio>
#include <string>

#include "mosta/common/conninfo.hpp"

namespace mosta::monitor {

void
MonitorLog(std::string_view text) noexcept {
	try {
		std::string line = "mosta-monitor: " + MaskCredentialsInText(text) + "\n";
		std::fputs(line.c_str(), stderr);
	} catch (...) {
		std::fputs("mosta-monitor: (out of memory while logging)\n", stderr);
	}
}

} // namespace mosta::monitor
