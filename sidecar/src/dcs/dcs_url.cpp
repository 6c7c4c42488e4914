/*
 * dcs_url.cpp
 *     Parsing of --dcs (see dcs_url.hpp).
 */
#include "dcs/dcs_url.hpp"

#include <stdexcept>

namespace mosta::sidecar::dcs {

namespace {

constexpr const char *kScheme = "etcd://";
constexpr const char *kShape = " (expected etcd://host:port[,host:port...]/prefix)";

// ParseEndpoint reads "host:port"; an IPv6 host is written in brackets, "[::1]:2379".
DcsEndpoint
ParseEndpoint(const std::string &text, const std::string &url) {
	std::size_t colon = text.rfind(':');
	if (colon == std::string::npos || colon + 1 == text.size())
		throw std::invalid_argument("--dcs " + url + ": endpoint \"" + text + "\" has no port" + kShape);
	DcsEndpoint endpoint{text.substr(0, colon), text.substr(colon + 1)};
	if (endpoint.host.size() > 2 && endpoint.host.front() == '[' && endpoint.host.back() == ']')
		endpoint.host = endpoint.host.substr(1, endpoint.host.size() - 2);
	if (endpoint.host.empty())
		throw std::invalid_argument("--dcs " + url + ": endpoint \"" + text + "\" has no host" + kShape);
	if (endpoint.port.find_first_not_of("0123456789") != std::string::npos || endpoint.port.size() > 5 ||
		std::stoi(endpoint.port) == 0 || std::stoi(endpoint.port) > 65535)
		throw std::invalid_argument("--dcs " + url + ": endpoint \"" + text + "\" has a bad port" + kShape);
	return endpoint;
}

} // namespace

std::string
DcsUrl::Text() const {
	std::string text = kScheme;
	for (std::size_t i = 0; i < endpoints.size(); ++i) {
		if (i > 0)
			text += ',';
		bool v6 = endpoints[i].host.find(':') != std::string::npos;
		text += (v6 ? "[" + endpoints[i].host + "]" : endpoints[i].host) + ":" + endpoints[i].port;
	}
	return text + prefix;
}

DcsUrl
ParseDcsUrl(const std::string &text) {
	const std::string scheme = kScheme;
	if (text.rfind(scheme, 0) != 0)
		throw std::invalid_argument("--dcs " + text + ": only etcd is supported" + kShape);
	std::string rest = text.substr(scheme.size());
	std::size_t slash = rest.find('/');
	if (slash == std::string::npos || slash + 1 == rest.size())
		throw std::invalid_argument("--dcs " + text + ": no key prefix" + kShape);
	DcsUrl url;
	url.prefix = rest.substr(slash);
	if (url.prefix.back() == '/' || url.prefix.find("//") != std::string::npos)
		throw std::invalid_argument("--dcs " + text + ": the prefix \"" + url.prefix +
									"\" must not end with / or hold an empty segment" + kShape);
	std::string hosts = rest.substr(0, slash);
	std::size_t start = 0;
	while (start <= hosts.size()) {
		std::size_t comma = hosts.find(',', start);
		std::string one = hosts.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
		if (one.empty())
			throw std::invalid_argument("--dcs " + text + ": an empty endpoint" + kShape);
		url.endpoints.push_back(ParseEndpoint(one, text));
		if (comma == std::string::npos)
			break;
		start = comma + 1;
	}
	return url;
}

} // namespace mosta::sidecar::dcs
