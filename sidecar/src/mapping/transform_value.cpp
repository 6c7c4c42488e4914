/*
 * transform_value.cpp
 *     Compatibility and canonical text of one column value (see transform_value.hpp).
 */
#include "mapping/transform_value.hpp"

#include <charconv>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "app/verify_mongo.hpp"
#include "mapping/mapping_names.hpp"
#include "mapping/transform_json.hpp"
#include "mapping/transform_time.hpp"
#include "mosta/common/canonical_row.hpp"

namespace mosta::mapping {

namespace {

// Milliseconds a BSON date may hold for a microsecond count to stay in an int64 (PostgreSQL's range is smaller).
constexpr std::int64_t kMaxMillis = std::numeric_limits<std::int64_t>::max() / 1000;

// Typmod returns the numbers inside the first "(...)" of a type text ("numeric(38,18)" → {38, 18}).
std::vector<int>
Typmod(std::string_view type) {
	std::vector<int> numbers;
	const std::size_t open = type.find('(');
	const std::size_t close = type.find(')', open);
	if (open == std::string_view::npos || close == std::string_view::npos)
		return numbers;
	std::string_view inside = type.substr(open + 1, close - open - 1);
	while (!inside.empty()) {
		while (!inside.empty() && inside.front() == ' ')
			inside.remove_prefix(1);
		int value = 0;
		auto [end, error] = std::from_chars(inside.data(), inside.data() + inside.size(), value);
		if (error != std::errc())
			break;
		numbers.push_back(value);
		inside.remove_prefix(static_cast<std::size_t>(end - inside.data()));
		while (!inside.empty() && (inside.front() == ' ' || inside.front() == ','))
			inside.remove_prefix(1);
	}
	return numbers;
}

ColumnValue
Refuse(const bson_iter_t *iter, std::string reason) {
	ColumnValue value;
	value.refused = true;
	value.reason = std::move(reason);
	value.offending = *iter;
	return value;
}

ColumnValue
Text(std::string text) {
	ColumnValue value;
	value.text = std::move(text);
	return value;
}

// Article prefixes a word with "a " or "an ".
std::string
Article(std::string_view word) {
	const bool vowel = !word.empty() && std::string_view("aeiou").find(word[0]) != std::string_view::npos;
	return (vowel ? "an " : "a ") + std::string(word);
}

// Mismatch is the problem of a BSON type the column cannot take.
ColumnValue
Mismatch(const bson_iter_t *iter, const ColumnPlan &plan) {
	return Refuse(iter, Article(BsonTypeName(bson_iter_type(iter))) + " cannot be stored in " + Article(plan.type) +
							" column");
}

// Utf8 returns the string at iter, or a problem when PostgreSQL text cannot hold it.
std::optional<std::string_view>
Utf8(const bson_iter_t *iter, ColumnValue *problem) {
	std::uint32_t length = 0;
	const char *text = bson_iter_utf8(iter, &length);
	if (const char *why = PgStringProblem(text, length); *why) {
		*problem = Refuse(iter, std::string("the string ") + why);
		return std::nullopt;
	}
	return std::string_view(text, length);
}

std::size_t
CodePoints(std::string_view text) {
	std::size_t count = 0;
	for (char c : text)
		count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
	return count;
}

ColumnValue
StringValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	const bson_type_t type = bson_iter_type(iter);
	if (type == BSON_TYPE_OID && plan.string_type)
		return Text(*sidecar::BsonCanonicalText(iter, "text")); // 24 hex digits: legacy string ids stay comparable
	if (type != BSON_TYPE_UTF8)
		return Mismatch(iter, plan);
	ColumnValue problem;
	std::optional<std::string_view> text = Utf8(iter, &problem);
	if (!text)
		return problem;
	std::string out(*text);
	if (plan.length >= 0) {
		std::size_t size = CodePoints(out);
		if (plan.blank_padded) // bpchar: trailing spaces beyond n are cut, not an error
			while (size > static_cast<std::size_t>(plan.length) && !out.empty() && out.back() == ' ') {
				out.pop_back();
				--size;
			}
		if (size > static_cast<std::size_t>(plan.length))
			return Refuse(iter, "longer than " + std::to_string(plan.length) + " characters (" + plan.type + ")");
		if (plan.blank_padded)
			out.append(static_cast<std::size_t>(plan.length) - size, ' ');
	}
	return Text(std::move(out));
}

bool
IntegerFits(std::int64_t value, PgTypeKind kind) {
	switch (kind) {
	case PgTypeKind::Int2:
		return value >= -32768 && value <= 32767;
	case PgTypeKind::Int4:
		return value >= std::numeric_limits<std::int32_t>::min() && value <= std::numeric_limits<std::int32_t>::max();
	case PgTypeKind::Oid:
		return value >= 0 && value <= std::numeric_limits<std::uint32_t>::max();
	default:
		return true;
	}
}

ColumnValue
IntegerValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	std::int64_t value = 0;
	switch (bson_iter_type(iter)) {
	case BSON_TYPE_INT32:
		value = bson_iter_int32(iter);
		break;
	case BSON_TYPE_INT64:
		value = bson_iter_int64(iter);
		break;
	case BSON_TYPE_DOUBLE: {
		const double number = bson_iter_double(iter);
		if (!std::isfinite(number) || std::trunc(number) != number)
			return Refuse(iter, "a double that is not an integer cannot be stored in a " + plan.type + " column");
		if (number < -9223372036854775808.0 || number >= 9223372036854775808.0)
			return Refuse(iter, "out of range for " + plan.type);
		value = static_cast<std::int64_t>(number);
		break;
	}
	case BSON_TYPE_DECIMAL128: {
		std::optional<std::string> integral = IntegralText(*sidecar::BsonCanonicalText(iter, "numeric"));
		if (!integral)
			return Refuse(iter, "a decimal that is not an integer cannot be stored in a " + plan.type + " column");
		auto [end, error] = std::from_chars(integral->data(), integral->data() + integral->size(), value);
		if (error != std::errc() || end != integral->data() + integral->size())
			return Refuse(iter, "out of range for " + plan.type);
		break;
	}
	default:
		return Mismatch(iter, plan);
	}
	if (!IntegerFits(value, plan.kind))
		return Refuse(iter, "out of range for " + plan.type);
	return Text(std::to_string(value));
}

// ShortestFixed writes a finite double with the shortest digits that read back as it, without an exponent.
std::string
ShortestFixed(double value) {
	char buffer[512];
	auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
	return error == std::errc() ? std::string(buffer, end) : FormatPgFloat8(value);
}

ColumnValue
NumericValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	std::string number;
	switch (bson_iter_type(iter)) {
	case BSON_TYPE_DECIMAL128:
		number = *sidecar::BsonCanonicalText(iter, "numeric");
		break;
	case BSON_TYPE_INT32:
		number = std::to_string(bson_iter_int32(iter));
		break;
	case BSON_TYPE_INT64:
		number = std::to_string(bson_iter_int64(iter));
		break;
	case BSON_TYPE_DOUBLE: {
		const double value = bson_iter_double(iter);
		number = std::isnan(value)	 ? "NaN"
				 : std::isinf(value) ? (value > 0 ? "Infinity" : "-Infinity")
									 : ShortestFixed(value);
		break;
	}
	case BSON_TYPE_UTF8: {
		ColumnValue problem;
		std::optional<std::string_view> text = Utf8(iter, &problem);
		if (!text)
			return problem;
		number = *text;
		break;
	}
	default:
		return Mismatch(iter, plan);
	}
	std::string reason;
	std::optional<std::string> text = NumericText(number, plan.numeric, &reason);
	if (!text)
		return Refuse(iter, reason.rfind("not ", 0) == 0 ? "a string that is " + reason
							: reason.rfind("has ", 0) == 0 || reason.rfind("does ", 0) == 0 ? "the value " + reason
																							: reason);
	return Text(std::move(*text));
}

ColumnValue
FloatValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	double value = 0;
	switch (bson_iter_type(iter)) {
	case BSON_TYPE_DOUBLE:
		value = bson_iter_double(iter);
		break;
	case BSON_TYPE_INT32:
		value = bson_iter_int32(iter);
		break;
	case BSON_TYPE_INT64:
		value = static_cast<double>(bson_iter_int64(iter));
		break;
	case BSON_TYPE_DECIMAL128: {
		const std::string text = *sidecar::BsonCanonicalText(iter, "numeric");
		value = std::strtod(text.c_str(), nullptr);
		if (std::isinf(value) && text != "Infinity" && text != "-Infinity")
			return Refuse(iter, "out of range for " + plan.type);
		break;
	}
	default:
		return Mismatch(iter, plan);
	}
	if (plan.kind == PgTypeKind::Float4) {
		if (std::isfinite(value) && std::fabs(value) > FLT_MAX)
			return Refuse(iter, "out of range for " + plan.type);
		return Text(FormatPgFloat4(static_cast<float>(value)));
	}
	return Text(FormatPgFloat8(value));
}

ColumnValue
TimeValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	std::int64_t micros = 0;
	switch (bson_iter_type(iter)) {
	case BSON_TYPE_DATE_TIME: {
		const std::int64_t millis = bson_iter_date_time(iter);
		if (millis > kMaxMillis || millis < -kMaxMillis)
			return Refuse(iter, "out of the timestamp range");
		micros = millis * 1000;
		break;
	}
	case BSON_TYPE_UTF8: {
		ColumnValue problem;
		std::optional<std::string_view> text = Utf8(iter, &problem);
		if (!text)
			return problem;
		std::optional<std::int64_t> parsed = ParseIsoTimestamp(*text);
		if (!parsed)
			return Refuse(iter, "a string that is not an ISO 8601 date (YYYY-MM-DD[THH:MM:SS[.fff]][Z|+HH:MM])");
		micros = *parsed;
		break;
	}
	default:
		return Mismatch(iter, plan);
	}
	const TimeKind kind = plan.kind == PgTypeKind::Timestamptz ? TimeKind::Timestamptz
						  : plan.kind == PgTypeKind::Timestamp ? TimeKind::Timestamp
															   : TimeKind::Date;
	std::string reason;
	std::optional<std::string> text = CanonicalTimeText(micros, kind, plan.time_precision, &reason);
	if (!text)
		return Refuse(iter, reason);
	return Text(std::move(*text));
}

int
HexDigit(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

// UuidString reads uuid_in's forms (optional braces, a hyphen allowed after any group of four digits).
std::optional<std::string>
UuidString(std::string_view text) {
	if (text.size() >= 2 && text.front() == '{' && text.back() == '}')
		text = text.substr(1, text.size() - 2);
	std::string hex;
	for (std::size_t i = 0; i < text.size(); ++i) {
		if (text[i] == '-' && hex.size() % 4 == 0 && !hex.empty() && i + 1 < text.size() && text[i + 1] != '-')
			continue;
		if (HexDigit(text[i]) < 0)
			return std::nullopt;
		hex += static_cast<char>(text[i] >= 'A' && text[i] <= 'F' ? text[i] - 'A' + 'a' : text[i]);
	}
	if (hex.size() != 32)
		return std::nullopt;
	return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
		   hex.substr(20);
}

ColumnValue
UuidValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	if (bson_iter_type(iter) == BSON_TYPE_BINARY) {
		bson_subtype_t subtype;
		std::uint32_t size = 0;
		const std::uint8_t *bytes = nullptr;
		bson_iter_binary(iter, &subtype, &size, &bytes);
		if (subtype != BSON_SUBTYPE_UUID || size != 16)
			return Refuse(iter,
						  "binary data that is not a UUID (subtype 4, 16 bytes) cannot be stored in a uuid column");
		return Text(*sidecar::BsonCanonicalText(iter, "uuid"));
	}
	if (bson_iter_type(iter) != BSON_TYPE_UTF8)
		return Mismatch(iter, plan);
	ColumnValue problem;
	std::optional<std::string_view> text = Utf8(iter, &problem);
	if (!text)
		return problem;
	std::optional<std::string> uuid = UuidString(*text);
	if (!uuid)
		return Refuse(iter, "a string that is not a UUID");
	return Text(std::move(*uuid));
}

// ScalarValue converts a value that is not NULL for a column of plan's base type.
ColumnValue
ScalarValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	switch (plan.kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
		return IntegerValue(iter, plan);
	case PgTypeKind::Numeric:
		return NumericValue(iter, plan);
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		return FloatValue(iter, plan);
	case PgTypeKind::Bool:
		if (bson_iter_type(iter) != BSON_TYPE_BOOL)
			return Mismatch(iter, plan);
		return Text(bson_iter_bool(iter) ? "true" : "false");
	case PgTypeKind::Timestamptz:
	case PgTypeKind::Timestamp:
	case PgTypeKind::Date:
		return TimeValue(iter, plan);
	case PgTypeKind::Uuid:
		return UuidValue(iter, plan);
	case PgTypeKind::Bytea:
		if (bson_iter_type(iter) != BSON_TYPE_BINARY)
			return Mismatch(iter, plan);
		return Text(*sidecar::BsonCanonicalText(iter, "bytea"));
	case PgTypeKind::Json:
	case PgTypeKind::Jsonb: {
		std::string out;
		JsonProblem problem;
		if (!AppendJsonb(out, iter, &problem)) {
			ColumnValue refused = Refuse(&problem.value, "the string " + problem.reason);
			refused.where = problem.path;
			return refused;
		}
		return Text(std::move(out));
	}
	case PgTypeKind::Text:
	case PgTypeKind::User:
		return StringValue(iter, plan);
	}
	return Mismatch(iter, plan);
}

bool
BareInArray(PgTypeKind kind, const std::string &text) {
	switch (kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
	case PgTypeKind::Bool:
		return true;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		return text != "NaN" && text != "Infinity" && text != "-Infinity";
	default:
		return false;
	}
}

// AppendArray writes an array column's value (the plugin's JSON array, nested per dimension; sizes holds the
// length of each dimension seen so far, as PostgreSQL arrays are rectangular).
bool
AppendArray(std::string &out, const bson_iter_t *iter, const ColumnPlan &plan, int depth, std::vector<long> &sizes,
			ColumnValue *problem) {
	bson_iter_t elements;
	out += '[';
	long count = 0;
	if (bson_iter_recurse(iter, &elements)) {
		for (; bson_iter_next(&elements); ++count) {
			out += count == 0 ? "" : ",";
			const bson_type_t type = bson_iter_type(&elements);
			ColumnValue element;
			if (depth + 1 < plan.dims) {
				if (type != BSON_TYPE_ARRAY) {
					*problem = Refuse(&elements, "an element of a " + std::to_string(plan.dims) +
													 "-dimensional array must be an array");
					problem->where = std::to_string(count);
					return false;
				}
				if (!AppendArray(out, &elements, plan, depth + 1, sizes, problem)) {
					problem->where = std::to_string(count) + (problem->where.empty() ? "" : "." + problem->where);
					return false;
				}
				continue;
			}
			if (type == BSON_TYPE_NULL || type == BSON_TYPE_UNDEFINED) {
				out += "null";
				continue;
			}
			element = ScalarValue(&elements, plan);
			if (element.refused) {
				*problem = element;
				problem->where = std::to_string(count) + (element.where.empty() ? "" : "." + element.where);
				return false;
			}
			if (BareInArray(plan.kind, *element.text))
				out += *element.text;
			else
				AppendJsonQuoted(out, *element.text);
		}
	}
	out += ']';
	if (sizes.size() <= static_cast<std::size_t>(depth))
		sizes.resize(static_cast<std::size_t>(depth) + 1, -1);
	if (sizes[static_cast<std::size_t>(depth)] >= 0 && sizes[static_cast<std::size_t>(depth)] != count) {
		*problem = Refuse(iter, "PostgreSQL arrays are rectangular: the sub-arrays differ in length");
		return false;
	}
	sizes[static_cast<std::size_t>(depth)] = count;
	return true;
}

} // namespace

ColumnPlan
PlanColumn(std::string_view type) {
	ColumnPlan plan;
	plan.type = std::string(type);
	// a mapping built in code may say int, decimal(10,2), timestamptz: format_type's spellings are what the type
	// table knows (ParseMapping normalises the file's types already)
	PgTypeName name = SplitPgTypeName(type);
	if (PgTypeOf(name.base).name.empty()) {
		if (std::string normalised = NormaliseType(type); !normalised.empty()) {
			plan.type = normalised;
			name = SplitPgTypeName(plan.type);
		}
	}
	type = plan.type;
	plan.kind = PgTypeOf(name.base).kind;
	plan.dims = name.dims;
	const std::vector<int> typmod = Typmod(type);
	const std::string &base = name.base;
	plan.string_type = base == "text" || base == "character varying" || base == "varchar" || base == "character" ||
					   base == "bpchar" || base == "char" || base == "name";
	if (plan.kind == PgTypeKind::Numeric && !typmod.empty())
		plan.numeric = NumericTypmod{typmod[0], typmod.size() > 1 ? typmod[1] : 0};
	if ((base == "character varying" || base == "varchar") && !typmod.empty())
		plan.length = typmod[0];
	if (base == "character" || base == "char") { // format_type's character(n); "character" alone is character(1)
		plan.length = typmod.empty() ? 1 : typmod[0];
		plan.blank_padded = true;
	}
	if (base == "bpchar" && !typmod.empty()) {
		plan.length = typmod[0];
		plan.blank_padded = true;
	}
	if ((plan.kind == PgTypeKind::Timestamptz || plan.kind == PgTypeKind::Timestamp) && !typmod.empty())
		plan.time_precision = typmod[0];
	return plan;
}

ColumnValue
ConvertValue(const bson_iter_t *iter, const ColumnPlan &plan) {
	if (!iter || bson_iter_type(iter) == BSON_TYPE_NULL || bson_iter_type(iter) == BSON_TYPE_UNDEFINED)
		return ColumnValue{};
	if (plan.dims == 0)
		return ScalarValue(iter, plan);
	if (bson_iter_type(iter) != BSON_TYPE_ARRAY)
		return Mismatch(iter, plan);
	std::string out;
	std::vector<long> sizes;
	ColumnValue problem;
	if (!AppendArray(out, iter, plan, 0, sizes, &problem))
		return problem;
	return Text(std::move(out));
}

const char *
BsonTypeName(bson_type_t type) noexcept {
	switch (type) {
	case BSON_TYPE_DOUBLE:
		return "double";
	case BSON_TYPE_UTF8:
		return "string";
	case BSON_TYPE_DOCUMENT:
		return "object";
	case BSON_TYPE_ARRAY:
		return "array";
	case BSON_TYPE_BINARY:
		return "binData";
	case BSON_TYPE_UNDEFINED:
		return "undefined";
	case BSON_TYPE_OID:
		return "objectId";
	case BSON_TYPE_BOOL:
		return "bool";
	case BSON_TYPE_DATE_TIME:
		return "date";
	case BSON_TYPE_NULL:
		return "null";
	case BSON_TYPE_REGEX:
		return "regex";
	case BSON_TYPE_DBPOINTER:
		return "dbPointer";
	case BSON_TYPE_CODE:
		return "javascript";
	case BSON_TYPE_SYMBOL:
		return "symbol";
	case BSON_TYPE_CODEWSCOPE:
		return "javascriptWithScope";
	case BSON_TYPE_INT32:
		return "int";
	case BSON_TYPE_TIMESTAMP:
		return "timestamp";
	case BSON_TYPE_INT64:
		return "long";
	case BSON_TYPE_DECIMAL128:
		return "decimal";
	case BSON_TYPE_MINKEY:
		return "minKey";
	case BSON_TYPE_MAXKEY:
		return "maxKey";
	default:
		return "unknown BSON type";
	}
}

std::string
ShortJson(const bson_iter_t *iter) {
	constexpr std::size_t kLimit = 80;
	bson_t holder = BSON_INITIALIZER;
	bson_append_iter(&holder, "v", 1, iter);
	std::size_t length = 0;
	char *json = bson_as_relaxed_extended_json(&holder, &length);
	std::string text = json ? std::string(json, length) : std::string();
	bson_free(json);
	bson_destroy(&holder);
	// "{ "v" : VALUE }"
	constexpr std::string_view kOpen = "{ \"v\" : ";
	if (text.size() >= kOpen.size() + 2 && text.compare(0, kOpen.size(), kOpen) == 0)
		text = text.substr(kOpen.size(), text.size() - kOpen.size() - 2);
	if (text.size() > kLimit) {
		std::size_t cut = kLimit;
		while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
			--cut; // not inside a UTF-8 sequence
		text = text.substr(0, cut) + "...";
	}
	return text;
}

} // namespace mosta::mapping
