/*
 * verify_select.hpp
 *     SelectCollections: the collections a command works on, from its --collections option (a comma-separated list;
 *     absent: every collection of the mapping), in load order (parents first). Shared by backfill, verify and shadow.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mapping/mapping.hpp"

namespace mosta::migrate {

// SelectCollections returns the mapping's collections named by list (all when nullopt), parents first; throws
// UsageError naming a collection the mapping does not have (and the ones it has).
std::vector<const mapping::CollectionMap *> SelectCollections(const mapping::Mapping &mapping,
															  const std::optional<std::string> &list);

} // namespace mosta::migrate
