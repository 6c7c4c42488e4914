/*
 * conninfo_options.cpp
 *     See conninfo_options.hpp.
 */
#include "pg/conninfo_options.hpp"

#include <stdexcept>

#include "mosta/common/conninfo.hpp"

namespace mosta::sidecar {

ConninfoOptions
ParseConninfo(const std::string &conninfo) {
	char *error = nullptr;
	ConninfoOptions options(PQconninfoParse(conninfo.c_str(), &error));
	if (!options) {
		std::string message = error != nullptr ? error : "out of memory";
		PQfreemem(error);
		while (!message.empty() && message.back() == '\n')
			message.pop_back();
		throw std::runtime_error("invalid connection string " + MaskCredentials(conninfo) + ": " +
								 MaskCredentialsInText(message));
	}
	return options;
}

std::string
ConninfoValue(const PQconninfoOption *options, std::string_view keyword) {
	for (const PQconninfoOption *option = options; option != nullptr && option->keyword != nullptr; ++option)
		if (keyword == option->keyword && option->val != nullptr)
			return option->val;
	return {};
}

std::vector<std::string>
SplitConninfoList(std::string_view list) {
	std::vector<std::string> items;
	if (list.empty())
		return items;
	for (;;) {
		std::size_t comma = list.find(',');
		items.emplace_back(list.substr(0, comma));
		if (comma == std::string_view::npos)
			return items;
		list.remove_prefix(comma + 1);
	}
}

} // namespace mosta::sidecar
