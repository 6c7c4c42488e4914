/*
 * type_name.hpp
 *     The PostgreSQL type names of the change documents' "types" (include-types: "numeric(10,2)",
 *     "timestamp(3) with time zone", "text[]", "public.mood"), split into what the sinks and verify classify.
 */
#pragma once

#include <string>
#include <string_view>

namespace mosta::sidecar {

// A type name without its typmods and array suffixes, and how many "[]" it had.
struct TypeName {
	std::string base; // "numeric", "timestamp with time zone", "text", "public.mood"
	int dims = 0;	  // "int[]" and "int[][]" print alike in PostgreSQL, so this is what the name says
};

// SplitTypeName strips typmods ("(10,2)", wherever they stand) and "[]" suffixes.
TypeName SplitTypeName(std::string_view type);

} // namespace mosta::sidecar
