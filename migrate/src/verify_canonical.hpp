/*
 * verify_canonical.hpp
 *     The canonical text a value takes once PostgreSQL has stored it (docs/migration.md, "verify"): the transform
 *     gives the canonical text of the BSON value (mapping/transform.hpp), but the column's input function may
 *     change it on the way in, and verify and the shadow sampler compare what PostgreSQL reads back:
 *       numeric(p,s): the value rescaled to s fraction digits ("12.5" → "12.500000000000000000"), rounded half
 *         away from zero as numeric_in does;
 *       jsonb: object keys in jsonb's order (shorter keys first, then bytewise; a repeated key keeps its last
 *         value), strings re-escaped as jsonb_out writes them ("\u0041" → "A"), so a legacy document's field order
 *         does not make a difference.
 *     Every other type's canonical text is already what PostgreSQL reads back. A text these rules cannot parse is
 *     returned unchanged (the comparison then shows it).
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mosta::migrate {

// StoredCanonicalText returns the canonical text value takes in a column of type (format_type's spelling, with its
// typmod: "numeric(38,18)", "jsonb"); nullopt stays nullopt.
std::optional<std::string> StoredCanonicalText(std::string_view type, const std::optional<std::string> &value);

// NumericScale returns s of "numeric(p,s)" (0 for "numeric(p)"), nullopt for a numeric without typmod or another type.
std::optional<int> NumericScale(std::string_view type);

// NormalizeJsonb returns json as jsonb_out prints it, or nullopt when json is not well-formed JSON.
std::optional<std::string> NormalizeJsonb(std::string_view json);

} // namespace mosta::migrate
