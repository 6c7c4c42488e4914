/*
 * command_report.hpp
 *     What the operator commands of ha/ (failover, promote, switch-back) share to refuse and to report: the refusal
 *     that changes nothing, and the JSON values of their mosta.activity details.
 */
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "mosta/common/canonical_row.hpp"
#include "pg/lsn.hpp"

namespace mosta::sidecar::ha {

// Refused is a refusal before anything changed: exit 1 with its message (and hint).
class Refused : public std::runtime_error {
  public:
	Refused(const std::string &message, std::string hint) : std::runtime_error(message), hint_(std::move(hint)) {}
	const std::string &
	Hint() const noexcept {
		return hint_;
	}

  private:
	std::string hint_;
};

// TextJson, LsnJson and NumberJson write JSON values of activity details: null when unset or empty.
inline std::string
TextJson(const std::string &text) {
	return text.empty() ? std::string("null") : JsonQuote(text);
}

inline std::string
LsnJson(std::optional<Lsn> lsn) {
	return lsn ? JsonQuote(FormatLsn(*lsn)) : std::string("null");
}

inline std::string
NumberJson(std::optional<long long> value) {
	return value ? std::to_string(*value) : std::string("null");
}

} // namespace mosta::sidecar::ha
