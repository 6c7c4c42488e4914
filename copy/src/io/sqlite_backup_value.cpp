/*
 * sqlite_backup_value.cpp
 *     Canonical text → the sidecar's Value (see sqlite_backup_value.hpp).
 */
#include "io/sqlite_backup_value.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "io/source.hpp"
#include "mosta/common/pg_types.hpp"

namespace mosta::copy {

namespace {

// kShownValueBytes is how much of a bad value an error message shows.
constexpr std::size_t kShownValueBytes = 60;

[[noreturn]] void
ThrowBadValue(const ColumnDef &column, std::string_view canonical, std::string_view what) {
	std::string shown(canonical.substr(0, kShownValueBytes));
	throw CopyError("column \"" + column.name + "\" (" + column.type + "): \"" + shown +
					(canonical.size() > kShownValueBytes ? "..." : "") + "\" is not " + std::string(what));
}

// ParseInt64 reads the whole of text as a decimal int64.
bool
ParseInt64(std::string_view text, std::int64_t &value) {
	const char *end = text.data() + text.size();
	auto [stop, error] = std::from_chars(text.data(), end, value);
	return error == std::errc() && stop == end && !text.empty();
}

} // namespace

ValueShape
ShapeOfColumn(const ColumnDef &column) {
	PgColumnType type = column.Classified();
	if (type.dims > 0)
		return ValueShape::Array;
	switch (type.info->kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
		return ValueShape::Integer;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		return ValueShape::Float;
	case PgTypeKind::Bool:
		return ValueShape::Boolean;
	default:
		return ValueShape::String;
	}
}

sidecar::Value
CanonicalToValue(ValueShape shape, std::string_view canonical, const ColumnDef &column) {
	switch (shape) {
	case ValueShape::Integer: {
		std::int64_t value = 0;
		if (!ParseInt64(canonical, value))
			ThrowBadValue(column, canonical, "an integer");
		return value;
	}
	case ValueShape::Float: {
		if (canonical == "NaN" || canonical == "Infinity" || canonical == "-Infinity")
			return canonical; // the plugin sends them as JSON strings
		std::int64_t integral = 0;
		if (canonical != "-0" && ParseInt64(canonical, integral))
			return integral;
		double value = 0;
		const char *end = canonical.data() + canonical.size();
		auto [stop, error] = std::from_chars(canonical.data(), end, value);
		if (error != std::errc() || stop != end || canonical.empty())
			ThrowBadValue(column, canonical, "a floating-point number");
		return value;
	}
	case ValueShape::Boolean:
		if (canonical == "true")
			return true;
		if (canonical == "false")
			return false;
		ThrowBadValue(column, canonical, "a boolean (true or false)");
	case ValueShape::Array:
		return sidecar::RawJson{canonical};
	case ValueShape::String:
		break;
	}
	return canonical;
}

bool
IsNegativeZero(const sidecar::Value &value) noexcept {
	const double *number = std::get_if<double>(&value);
	return number != nullptr && *number == 0 && std::signbit(*number);
}

} // namespace mosta::copy
