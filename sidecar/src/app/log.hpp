/*
 * log.hpp
 *     One line per state change on stderr, "mosta-sidecar: <text>", with credentials masked; the text of a caught
 *     failure.
 */
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace mosta::sidecar {

// LogLine writes "mosta-sidecar: <text>" to stderr, credentials masked; never throws.
void LogLine(std::string_view text) noexcept;

// DescribeError returns what() of the exception error holds ("unknown error" for one that is not a
// std::exception): the text of a failure's log line and status.
std::string DescribeError(const std::exception_ptr &error);

} // namespace mosta::sidecar
