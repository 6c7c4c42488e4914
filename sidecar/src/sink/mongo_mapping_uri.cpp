/*
 * mongo_mapping_uri.cpp
 *     SplitMappingOption (see mongo_mapping_uri.hpp).
 */
#include "sink/mongo_mapping_uri.hpp"

#include <optional>
#include <stdexcept>
#include <string_view>

#include "mosta/common/hex.hpp"

namespace mosta::sidecar {

namespace {

// PercentDecode decodes %XX escapes; nullopt on a bad escape.
std::optional<std::string>
PercentDecode(std::string_view text) {
	std::string out;
	for (std::size_t i = 0; i < text.size(); ++i) {
		if (text[i] != '%') {
			out += text[i];
			continue;
		}
		if (i + 2 >= text.size())
			return std::nullopt;
		int high = HexDigitValue(text[i + 1]);
		int low = HexDigitValue(text[i + 2]);
		if (high < 0 || low < 0)
			return std::nullopt;
		out += static_cast<char>(high * 16 + low);
		i += 2;
	}
	return out;
}

} // namespace

MappedUri
SplitMappingOption(const std::string &uri) {
	MappedUri out;
	std::size_t query = uri.find('?');
	if (query == std::string::npos) {
		out.uri = uri;
		return out;
	}
	out.uri = uri.substr(0, query);
	std::string kept;
	const std::string key = std::string(kMappingUriOption) + "=";
	bool found = false;
	for (std::size_t begin = query + 1; begin <= uri.size();) {
		std::size_t end = uri.find_first_of("&;", begin);
		if (end == std::string::npos)
			end = uri.size();
		std::string option = uri.substr(begin, end - begin);
		if (option.compare(0, key.size(), key) == 0) {
			if (found)
				throw std::invalid_argument("the MongoDB URI names " + std::string(kMappingUriOption) + " twice");
			std::optional<std::string> path = PercentDecode(option.substr(key.size()));
			if (!path || path->empty())
				throw std::invalid_argument("the MongoDB URI's " + std::string(kMappingUriOption) +
											" is empty or badly percent-encoded; write ?" + kMappingUriOption +
											"=/path/to/file.mapping.json");
			out.mapping_path = *path;
			found = true;
		} else if (!option.empty()) {
			kept += (kept.empty() ? "" : "&") + option;
		}
		begin = end + 1;
	}
	if (!kept.empty())
		out.uri += "?" + kept;
	return out;
}

} // namespace mosta::sidecar
