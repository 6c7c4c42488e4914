/*
 * shadow_keys.hpp
 *     The shadow sampler's --keys option: the keys to check instead of random ones (a deterministic check, for tests
 *     and for looking at a key someone reported).
 */
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace mosta::migrate {

// ParseShadowKeys reads --keys: "collection:legacy_id" items separated by commas (a legacy id may hold ':' but not
// ','); throws UsageError.
std::vector<std::pair<std::string, std::string>> ParseShadowKeys(const std::string &text);

} // namespace mosta::migrate
