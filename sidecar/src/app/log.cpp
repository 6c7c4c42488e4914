/*
 * log.cpp
 *     LogLine and DescribeError (see log.hpp).
 */
#include "app/log.hpp"

#include <cstdio>
#include <string>

#include "mosta/common/conninfo.hpp"

namespace mosta::sidecar {

void
LogLine(std::string_view text) noexcept {
	try {
		std::string line = "mosta-sidecar: " + MaskCredentialsInText(text) + "\n";
		std::fputs(line.c_str(), stderr);
	} catch (...) {
		std::fputs("mosta-sidecar: (out of memory while logging)\n", stderr);
	}
}

std::string
DescribeError(const std::exception_ptr &error) {
	try {
		std::rethrow_exception(error);
	} catch (const std::exception &e) {
		return e.what();
	} catch (...) {
		return "unknown error";
	}
}

} // namespace mosta::sidecar
