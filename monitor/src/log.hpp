/*
 * log.hpp
 *     One line per state change on stderr, "mosta-monitor: <text>", credentials of URIs masked. Callers never pass
 *     the token: nothing the monitor logs is built from it.
 */
#pragma once

#include <string_view>

namespace mosta::monitor {

// MonitorLog writes "mosta-monitor: <text>" to stderr, credentials masked; never throws.
void MonitorLog(std::string_view text) noexcept;

} // namespace mosta::monitor
