/*
 * conninfo_options.hpp
 *     A libpq connection string taken apart by libpq itself (PQconninfoParse, PQconninfo): the owned option array,
 *     one option's value, and the comma lists of a multi-host string (host=a,b port=1,2). Used by the connection's
 *     host-by-host connect and by the HA commands, which rebuild conninfos for one host or a standby.
 */
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

namespace mosta::sidecar {

// ConninfoOptionsFree frees an array of PQconninfoParse or PQconninfo.
struct ConninfoOptionsFree {
	void
	operator()(PQconninfoOption *options) const noexcept {
		PQconninfoFree(options);
	}
};
using ConninfoOptions = std::unique_ptr<PQconninfoOption, ConninfoOptionsFree>;

// ParseConninfo parses conninfo (keyword/value or URI) with libpq; throws std::runtime_error "invalid connection
// string <masked>: <libpq's reason, masked>" when it cannot.
ConninfoOptions ParseConninfo(const std::string &conninfo);

// ConninfoValue returns the value of keyword in options ("" when unset).
std::string ConninfoValue(const PQconninfoOption *options, std::string_view keyword);

// SplitConninfoList splits a host, hostaddr or port list at its commas, empty items kept as libpq keeps them
// ("a,,c" gives three); "" gives none.
std::vector<std::string> SplitConninfoList(std::string_view list);

} // namespace mosta::sidecar
