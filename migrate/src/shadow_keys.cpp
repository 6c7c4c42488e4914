/*
 * shadow_keys.cpp
 *     ParseShadowKeys (shadow_keys.hpp).
 */
#include "shadow_keys.hpp"

#include <sstream>

#include "command_line.hpp"

namespace mosta::migrate {

std::vector<std::pair<std::string, std::string>>
ParseShadowKeys(const std::string &text) {
	std::vector<std::pair<std::string, std::string>> keys;
	std::stringstream items(text);
	for (std::string item; std::getline(items, item, ',');) {
		std::size_t colon = item.find(':');
		if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
			throw UsageError("--keys: \"" + item +
							 "\" is not COLLECTION:LEGACY_ID (e.g. payments:65a1f0c2e4b0a1b2c3d4e5f6)");
		keys.emplace_back(item.substr(0, colon), item.substr(colon + 1));
	}
	if (keys.empty())
		throw UsageError("--keys names no key");
	return keys;
}

} // namespace mosta::migrate
