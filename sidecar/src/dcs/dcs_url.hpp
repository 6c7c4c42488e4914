/*
 * dcs_url.hpp
 *     The --dcs value: etcd://host:port[,host:port...]/prefix. Every HA key of a mostajs installation lives under
 *     the prefix (docs/ha.md, "Keys"): one prefix per catalog.
 */
#pragma once

#include <string>
#include <vector>

namespace mosta::sidecar::dcs {

struct DcsEndpoint {
	std::string host;
	std::string port;
};

struct DcsUrl {
	std::vector<DcsEndpoint> endpoints; // in the order given: the first is tried first
	std::string prefix;					// "/mosta" (a leading slash, no trailing one)

	// Text returns the URL as given back: etcd://h:p,h:p/prefix (it never holds a secret).
	std::string Text() const;
};

// ParseDcsUrl reads etcd://host:port[,host:port...]/prefix; throws std::invalid_argument naming the offending part
// (another scheme, a missing or bad port, an empty host, no prefix, a prefix with "//" or a trailing "/").
DcsUrl ParseDcsUrl(const std::string &text);

} // namespace mosta::sidecar::dcs
