/*
 * target_uri.cpp
 *     TargetFilePath (see target_uri.hpp).
 */
#include "mosta/common/target_uri.hpp"

#include "uri_text.hpp"

namespace mosta {

std::optional<std::string>
TargetFilePath(std::string_view uri) {
	std::optional<std::string> path;
	if (uri.substr(0, 9) == "sqlite://") {
		path = std::string(uri.substr(9));
	} else if (uri.substr(0, 5) == "file:") {
		std::string_view rest = uri.substr(5);
		if (rest.substr(0, 2) == "//") {
			rest.remove_prefix(2);
			std::string_view host = rest.substr(0, rest.find('/'));
			if (!host.empty() && host != "localhost")
				return std::nullopt;
			rest.remove_prefix(host.size());
		}
		path = detail::PercentDecode(rest.substr(0, rest.find_first_of("?#")));
	} else {
		path = std::string(uri);
	}
	if (path && path->empty())
		return std::nullopt;
	return path;
}

} // namespace mosta
