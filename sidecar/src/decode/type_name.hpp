/*
 * type_name.hpp
 *     Forwarding header: the parser of declared type names moved to the type table, mosta/common/pg_types.hpp
 *     (SplitPgTypeName), shared by the sidecar and the extension.
 */
#pragma once

#include <string_view>

#include "mosta/common/pg_types.hpp"

namespace mosta::sidecar {

using TypeName = mosta::PgTypeName;

// SplitTypeName strips typmods and "[]" suffixes (mosta::SplitPgTypeName).
inline TypeName
SplitTypeName(std::string_view type) {
	return mosta::SplitPgTypeName(type);
}

} // namespace mosta::sidecar
