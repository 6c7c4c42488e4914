/*
 * log.hpp
 *     One line per state change on stderr, "mosta-sidecar: <text>", with credentials masked.
 */
#pragma once

#include <string_view>

namespace mosta::sidecar {

// LogLine writes "mosta-sidecar: <text>" to stderr, credentials masked; never throws.
void LogLine(std::string_view text) noexcept;

} // namespace mosta::sidecar
