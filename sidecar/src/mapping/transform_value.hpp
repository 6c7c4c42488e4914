/*
 * transform_value.hpp
 *     One mapped column's value for the forward transform: the compatibility of a BSON value with the column's
 *     type (spec: "Forward transform semantics"), then its canonical text, the text PostgreSQL holds once the
 *     value is stored (so that verify's checksum of the documents equals mosta_checksum of the rows). Typmods
 *     count: numeric(p,s) pads to the scale and refuses digits it would round away, varchar(n) refuses longer
 *     strings, character(n) pads with spaces, timestamp(p) rounds as PostgreSQL does.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <bson/bson.h>

#include "mapping/transform_numeric.hpp"
#include "mosta/common/pg_types.hpp"

namespace mosta::mapping {

// A column's type, classified once.
struct ColumnPlan {
	std::string type; // as the mapping writes it
	PgTypeKind kind = PgTypeKind::Text;
	int dims = 0;
	bool string_type = false;  // text, varchar, character, name: a string is stored as it is
	NumericTypmod numeric;	   // numeric(p,s)
	int length = -1;		   // varchar(n), character(n): at most n characters
	bool blank_padded = false; // character(n): padded with spaces to n
	int time_precision = -1;   // timestamp(p)
};

// PlanColumn classifies a column type ("numeric(38,18)", "character varying(20)", "text[]", "jsonb").
ColumnPlan PlanColumn(std::string_view type);

// What a value becomes: its canonical text (nullopt: NULL), or a problem: why, and where below the value
// ("3" for an array's fourth element, "" for the value itself) with the offending value.
struct ColumnValue {
	std::optional<std::string> text;
	bool refused = false;
	std::string reason;
	std::string where;
	bson_iter_t offending{};
};

// ConvertValue converts the value at iter (nullptr: missing) for a column of plan.
ColumnValue ConvertValue(const bson_iter_t *iter, const ColumnPlan &plan);

// BsonTypeName names a BSON type as MongoDB's $type does ("string", "objectId", "date", "decimal", ...).
const char *BsonTypeName(bson_type_t type) noexcept;

// ShortJson returns a value as relaxed extended JSON, shortened to about 80 characters.
std::string ShortJson(const bson_iter_t *iter);

} // namespace mosta::mapping
