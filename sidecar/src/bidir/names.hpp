/*
 * names.hpp
 *     The names a bidirectional rule (and a PostgreSQL target) uses on each side, derived from the rule and the
 *     replica so that a restarted sidecar finds them again (docs/bidirectional.md, "Loop prevention").
 */
#pragma once

#include <string>

#include "app/catalog.hpp"

namespace mosta::sidecar {

// ForwardOriginName is the replication origin on a PostgreSQL target holding what the rule applied there from
// the source: SlotName(rule, project, replica), the key the other sinks keep their checkpoint under.
inline std::string
ForwardOriginName(const std::string &rule, const std::string &project, const std::string &replica) {
	return SlotName(rule, project, replica);
}

// ReverseOriginName is the replication origin on the rule's source (its PostgreSQL master) holding what the rule
// applied there from one target replica; the forward stream drops, for that target only, the transactions that
// carry it (they came from there). On a PostgreSQL target it is also the name of the logical slot the reverse
// direction reads.
inline std::string
ReverseOriginName(const std::string &rule, const std::string &project, const std::string &replica) {
	return SlotName(rule + "/reverse", project, replica);
}

} // namespace mosta::sidecar
