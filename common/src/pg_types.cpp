/*
 * pg_types.cpp
 *     The PostgreSQL type table (see pg_types.hpp).
 *
 * Regime: plain C++17; no PostgreSQL server header.
 */
#include "mosta/common/pg_types.hpp"

#include <array>

namespace mosta {

namespace {

using K = PgTypeKind;
using S = SqliteAffinity;
using L = SqlLiteralForm;
using B = BsonForm;
using C = CanonicalForm;

// The named types. Adding one here changes every target: update the SQL side (sql/parts/60_validate.sql) and
// docs/sidecar.md, docs/mongodb.md with it; pg_types_test.cpp fails until the SQL side agrees.
constexpr std::array<PgTypeInfo, 17> kRows = {{
	{"smallint", K::Int2, S::Integer, L::Text, B::Int32, C::Text},
	{"integer", K::Int4, S::Integer, L::Text, B::Int32, C::Text},
	{"bigint", K::Int8, S::Integer, L::Text, B::Int64, C::Text},
	{"oid", K::Oid, S::Integer, L::Text, B::Int64, C::Text},
	{"numeric", K::Numeric, S::Text, L::Text, B::Decimal128, C::Text},
	{"real", K::Float4, S::Real, L::Text, B::Double, C::Float4},
	{"double precision", K::Float8, S::Real, L::Text, B::Double, C::Float8},
	{"boolean", K::Bool, S::Integer, L::Text, B::Bool, C::Boolean},
	{"timestamp with time zone", K::Timestamptz, S::Text, L::BcYears, B::DateTime, C::Text},
	{"timestamp without time zone", K::Timestamp, S::Text, L::BcYears, B::DateTime, C::Text},
	{"date", K::Date, S::Text, L::BcYears, B::DateTime, C::Text},
	{"uuid", K::Uuid, S::Text, L::Text, B::UuidBinary, C::Text},
	{"bytea", K::Bytea, S::Blob, L::Text, B::Binary, C::ByteaHex},
	{"json", K::Json, S::Text, L::Text, B::Embedded, C::JsonText},
	{"jsonb", K::Jsonb, S::Text, L::Text, B::Embedded, C::JsonText},
	{"text", K::Text, S::Text, L::Text, B::String, C::Text},
	{"character varying", K::Text, S::Text, L::Text, B::String, C::Text},
}};

// The fallbacks: other built-in types, and user or extension types.
constexpr PgTypeInfo kOtherBuiltin = {"", K::Text, S::Text, L::Text, B::String, C::Text};
constexpr PgTypeInfo kUserType = {"", K::User, S::None, L::Text, B::String, C::Text};

} // namespace

PgTypeRows
PgTypeTable() noexcept {
	return PgTypeRows{kRows.data(), kRows.size()};
}

PgTypeName
SplitPgTypeName(std::string_view type) {
	PgTypeName result;
	while (type.size() >= 2 && type.substr(type.size() - 2) == "[]") {
		++result.dims;
		type.remove_suffix(2);
	}
	int depth = 0;
	for (char c : type) {
		if (c == '(')
			++depth;
		else if (c == ')')
			depth = depth > 0 ? depth - 1 : 0;
		else if (depth == 0)
			result.base += c;
	}
	while (!result.base.empty() && result.base.back() == ' ')
		result.base.pop_back();
	return result;
}

const PgTypeInfo &
PgTypeOf(std::string_view base) noexcept {
	for (const PgTypeInfo &row : kRows)
		if (row.name == base)
			return row;
	return base.find_first_of(".\"") != std::string_view::npos ? kUserType : kOtherBuiltin;
}

PgColumnType
ClassifyPgType(std::string_view type) {
	PgTypeName name = SplitPgTypeName(type);
	return PgColumnType{&PgTypeOf(name.base), name.dims};
}

std::string_view
SqliteDeclaredTypeName(SqliteAffinity affinity) noexcept {
	switch (affinity) {
	case SqliteAffinity::Integer:
		return "INTEGER";
	case SqliteAffinity::Real:
		return "REAL";
	case SqliteAffinity::Text:
		return "TEXT";
	case SqliteAffinity::Blob:
		return "BLOB";
	case SqliteAffinity::None:
		break;
	}
	return "";
}

} // namespace mosta
