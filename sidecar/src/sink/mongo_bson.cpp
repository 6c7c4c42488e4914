/*
 * mongo_bson.cpp
 *     Change → BSON (see mongo_bson.hpp and docs/mongodb.md): the type mapping, ISO 8601 dates, Decimal128, and a
 *     walker over simdjson's values that writes json/jsonb values and arrays straight into BSON, keeping 64-bit
 *     integers exact.
 */
#include "sink/mongo_bson.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <stdexcept>

#include "mosta/common/hex.hpp"
#include "mosta/common/pg_types.hpp"
#include "util/json_text.hpp"

namespace mosta::sidecar {

namespace {

// U+FF0E FULLWIDTH FULL STOP and U+FF04 FULLWIDTH DOLLAR SIGN in UTF-8: what '.' and a leading '$' become.
constexpr std::string_view kDotReplacement = "\xEF\xBC\x8E";
constexpr std::string_view kDollarReplacement = "\xEF\xBC\x84";

// Decimal128 holds at most this many significant digits.
constexpr std::size_t kDecimal128Digits = 34;

constexpr std::int64_t kMillisPerSecond = 1000;
constexpr std::int64_t kSecondsPerDay = 86'400;

// How a PostgreSQL type maps (the base type of an array: see PgType::dims). Json is natural JSON (json content,
// values of unknown type); JsonText is a json or jsonb column, whose values are JSON texts in strings (format
// version 2): each is parsed and embedded, so the JSON null "null" becomes BSON null.
enum class Kind { Int32, Int64, Numeric, Float, Bool, Timestamp, Date, Uuid, Bytea, Json, JsonText, Other };

// A type name of include-types, read: its kind and its number of array dimensions ("int[]" and "int[][]" print
// alike, so dims is what the name says, and nested JSON arrays are followed whatever it is).
struct PgType {
	Kind kind = Kind::Other;
	int dims = 0;
};

// ReadPgType maps a classified type by the type table's BSON form.
PgType
ReadPgType(PgColumnType column) {
	PgType result;
	result.dims = column.dims;
	switch (column.info->bson) {
	case BsonForm::Int32:
		result.kind = Kind::Int32;
		break;
	case BsonForm::Int64:
		result.kind = Kind::Int64;
		break;
	case BsonForm::Decimal128:
		result.kind = Kind::Numeric;
		break;
	case BsonForm::Double:
		result.kind = Kind::Float;
		break;
	case BsonForm::Bool:
		result.kind = Kind::Bool;
		break;
	case BsonForm::DateTime:
		result.kind = column.info->kind == PgTypeKind::Date ? Kind::Date : Kind::Timestamp;
		break;
	case BsonForm::UuidBinary:
		result.kind = Kind::Uuid;
		break;
	case BsonForm::Binary:
		result.kind = Kind::Bytea;
		break;
	case BsonForm::Embedded:
		result.kind = Kind::JsonText;
		break;
	case BsonForm::String:
		result.kind = Kind::Other;
		break;
	}
	return result;
}

// Key returns field's length for libbson, refusing what does not fit an int.
int
KeyLength(std::string_view field) {
	if (field.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
		throw std::invalid_argument("field name too long for BSON");
	return static_cast<int>(field.size());
}

// Check throws when a libbson append failed (the document would exceed the BSON size limit).
void
Check(bool appended, std::string_view field) {
	if (!appended)
		throw std::runtime_error("cannot append field \"" + std::string(field) +
								 "\" to a BSON document (a MongoDB document is limited to 16 MB)");
}

void
AppendUtf8(bson_t *doc, std::string_view field, std::string_view text) {
	if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
		throw std::runtime_error("value of field \"" + std::string(field) + "\" is too long for BSON");
	Check(bson_append_utf8(doc, field.data(), KeyLength(field), text.data(), static_cast<int>(text.size())), field);
}

void
AppendBinary(bson_t *doc, std::string_view field, bson_subtype_t subtype, std::string_view bytes) {
	if (bytes.size() > std::numeric_limits<std::uint32_t>::max())
		throw std::runtime_error("value of field \"" + std::string(field) + "\" is too long for BSON");
	Check(bson_append_binary(doc, field.data(), KeyLength(field), subtype,
							 reinterpret_cast<const std::uint8_t *>(bytes.data()),
							 static_cast<std::uint32_t>(bytes.size())),
		  field);
}

// AppendInteger appends an int32 when value fits one (or int32 is not asked for), else an int64.
void
AppendInteger(bson_t *doc, std::string_view field, std::int64_t value, bool int32_when_fits) {
	if (int32_when_fits && value >= std::numeric_limits<std::int32_t>::min() &&
		value <= std::numeric_limits<std::int32_t>::max())
		Check(bson_append_int32(doc, field.data(), KeyLength(field), static_cast<std::int32_t>(value)), field);
	else
		Check(bson_append_int64(doc, field.data(), KeyLength(field), value), field);
}

// DaysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm;
// astronomical years: 0 is 1 BC).
std::int64_t
DaysFromCivil(std::int64_t year, unsigned month, unsigned day) {
	year -= month <= 2 ? 1 : 0;
	const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
	const auto year_of_era = static_cast<unsigned>(year - era * 400);
	const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
	return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

// ReadDigits reads exactly count digits (count 0: one or more) at pos into value.
bool
ReadDigits(std::string_view text, std::size_t &pos, std::size_t count, std::int64_t &value) {
	std::size_t start = pos;
	value = 0;
	while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9' && (count == 0 || pos - start < count)) {
		if (value > std::numeric_limits<std::int64_t>::max() / 10 - 10)
			return false;
		value = value * 10 + (text[pos] - '0');
		++pos;
	}
	return pos > start && (count == 0 || pos - start == count);
}

// ParseIsoMillis reads "[-]YYYY-MM-DD[(T| )HH:MM:SS[.f...][Z|±HH[:MM[:SS]]]]" as UTC milliseconds since the epoch
// (no zone: UTC); sets truncated when non-zero digits below the millisecond were dropped; nullopt when malformed.
std::optional<std::int64_t>
ParseIsoMillis(std::string_view text, bool &truncated) {
	truncated = false;
	std::size_t pos = 0;
	bool negative_year = false;
	if (pos < text.size() && text[pos] == '-') {
		negative_year = true;
		++pos;
	}
	std::int64_t year = 0, month = 0, day = 0;
	std::size_t year_start = pos;
	if (!ReadDigits(text, pos, 0, year) || pos - year_start < 4 || pos >= text.size() || text[pos++] != '-' ||
		!ReadDigits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' || !ReadDigits(text, pos, 2, day))
		return std::nullopt;
	if (month < 1 || month > 12 || day < 1 || day > 31 || year > 300'000'000)
		return std::nullopt;
	if (negative_year)
		year = -year;
	std::int64_t millis = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
						  kSecondsPerDay * kMillisPerSecond;
	if (pos == text.size())
		return millis;
	if (text[pos] != 'T' && text[pos] != ' ')
		return std::nullopt;
	++pos;
	std::int64_t hour = 0, minute = 0, second = 0;
	if (!ReadDigits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
		!ReadDigits(text, pos, 2, minute) || pos >= text.size() || text[pos++] != ':' ||
		!ReadDigits(text, pos, 2, second))
		return std::nullopt;
	if (hour > 24 || minute > 59 || second > 60)
		return std::nullopt;
	millis += ((hour * 60 + minute) * 60 + second) * kMillisPerSecond;
	if (pos < text.size() && text[pos] == '.') {
		++pos;
		std::size_t digits = 0;
		std::int64_t fraction = 0;
		while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
			if (digits < 3)
				fraction = fraction * 10 + (text[pos] - '0');
			else if (text[pos] != '0')
				truncated = true;
			++digits;
			++pos;
		}
		if (digits == 0)
			return std::nullopt;
		for (std::size_t i = digits; i < 3; ++i)
			fraction *= 10;
		millis += fraction;
	}
	if (pos == text.size())
		return millis;
	if (text[pos] == 'Z' && pos + 1 == text.size())
		return millis;
	if (text[pos] != '+' && text[pos] != '-')
		return std::nullopt;
	const std::int64_t sign = text[pos++] == '-' ? -1 : 1;
	std::int64_t offset_hours = 0, offset_minutes = 0, offset_seconds = 0;
	if (!ReadDigits(text, pos, 2, offset_hours))
		return std::nullopt;
	if (pos < text.size() && text[pos] == ':') {
		++pos;
		if (!ReadDigits(text, pos, 2, offset_minutes))
			return std::nullopt;
		if (pos < text.size() && text[pos] == ':') {
			++pos;
			if (!ReadDigits(text, pos, 2, offset_seconds))
				return std::nullopt;
		}
	}
	if (pos != text.size())
		return std::nullopt;
	return millis - sign * ((offset_hours * 60 + offset_minutes) * 60 + offset_seconds) * kMillisPerSecond;
}

// SignificantDigits counts the digits of a plain decimal text ("-0012.500" → 4), leading zeros excluded; npos when
// text is not [-+]digits[.digits].
std::size_t
SignificantDigits(std::string_view text) {
	std::size_t pos = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
	std::size_t count = 0, digits = 0;
	bool dot = false;
	for (; pos < text.size(); ++pos) {
		char c = text[pos];
		if (c == '.' && !dot) {
			dot = true;
		} else if (c >= '0' && c <= '9') {
			++digits;
			if (count > 0 || c != '0')
				++count;
		} else {
			return std::string_view::npos;
		}
	}
	return digits == 0 ? std::string_view::npos : count;
}

// AppendNumeric appends numeric text as a Decimal128 when it is exact there, else as the string (noted).
void
AppendNumeric(bson_t *doc, std::string_view field, const std::string &text, std::string_view column,
			  MappingNotes &notes) {
	bson_decimal128_t decimal;
	bool special = text == "NaN" || text == "Infinity" || text == "-Infinity";
	std::size_t digits = SignificantDigits(text);
	if ((special || (digits != std::string_view::npos && digits <= kDecimal128Digits)) &&
		bson_decimal128_from_string(text.c_str(), &decimal)) {
		Check(bson_append_decimal128(doc, field.data(), KeyLength(field), &decimal), field);
		return;
	}
	notes.push_back({std::string(column), "numeric " + text.substr(0, 40) + (text.size() > 40 ? "..." : "") +
											  " does not fit a Decimal128 (34 significant digits): kept as a string"});
	AppendUtf8(doc, field, text);
}

// AppendDateText appends an ISO date or timestamp as a BSON date; infinities and unreadable text stay strings
// (noted).
void
AppendDateText(bson_t *doc, std::string_view field, const std::string &text, std::string_view column,
			   MappingNotes &notes) {
	bool truncated = false;
	std::optional<std::int64_t> millis = ParseIsoMillis(text, truncated);
	if (!millis) {
		notes.push_back({std::string(column),
						 "date/time \"" + text.substr(0, 40) + "\" has no BSON date equivalent: kept as a string"});
		AppendUtf8(doc, field, text);
		return;
	}
	if (truncated)
		notes.push_back({std::string(column), "timestamp " + text + " truncated to milliseconds"});
	Check(bson_append_date_time(doc, field.data(), KeyLength(field), *millis), field);
}

// ParseUuid reads a uuid's text (hex digits, hyphens allowed) into 16 bytes.
std::optional<std::string>
ParseUuid(std::string_view text) {
	std::string bytes;
	int high = -1;
	for (char c : text) {
		if (c == '-')
			continue;
		int digit = HexDigitValue(c);
		if (digit < 0)
			return std::nullopt;
		if (high < 0) {
			high = digit;
		} else {
			bytes += static_cast<char>(high * 16 + digit);
			high = -1;
		}
	}
	if (high >= 0 || bytes.size() != 16)
		return std::nullopt;
	return bytes;
}

// ParseByteaHex decodes "\x0aff" into bytes.
std::optional<std::string>
ParseByteaHex(std::string_view text) {
	if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0)
		return std::nullopt;
	std::string bytes;
	bytes.reserve((text.size() - 2) / 2);
	for (std::size_t i = 2; i < text.size(); i += 2) {
		int high = HexDigitValue(text[i]);
		int low = HexDigitValue(text[i + 1]);
		if (high < 0 || low < 0)
			return std::nullopt;
		bytes += static_cast<char>(high * 16 + low);
	}
	return bytes;
}

// NeedsEscape tells whether MongoFieldName would change name (or refuse it).
bool
NeedsEscape(std::string_view name) noexcept {
	return (!name.empty() && name[0] == '$') || name.find('.') != std::string_view::npos ||
		   name.find('\0') != std::string_view::npos;
}

// AppendScalar appends a non-JSON-structured value by kind.
void AppendScalar(bson_t *doc, std::string_view field, const Value &value, Kind kind, std::string_view column,
				  MappingNotes &notes);

// JsonToBson walks one JSON value (json/jsonb, or an array's text) with simdjson and appends it; leaves (scalars)
// are mapped by leaf_kind (Kind::Json: natural JSON, Kind::Other included). Keys are escaped by MongoFieldName, so
// "$"-keys stay data (libbson's own JSON reader would take them for Extended JSON).
class JsonToBson {
  public:
	JsonToBson(std::string_view text, Kind leaf_kind, std::string_view column, MappingNotes &notes)
		: text_(text), leaf_kind_(leaf_kind), column_(column), notes_(notes) {}

	// AppendAll appends the whole text as one value under field; throws when it is not one JSON value.
	void
	AppendAll(bson_t *doc, std::string_view field) {
		try {
			JsonParse parse(text_);
			ondemand::document &document = parse.Document();
			ondemand::json_type type = document.type().value();
			if (type == ondemand::json_type::object || type == ondemand::json_type::array) {
				AppendValue(doc, field, document.get_value().value(), 0);
				parse.ExpectEnd();
				return;
			}
			std::string_view token = document.raw_json_token().value();
			parse.ExpectScalarEnd(token);
			switch (type) {
			case ondemand::json_type::string:
				AppendScalar(doc, field, document.get_string().value(), leaf_kind_, column_, notes_);
				return;
			case ondemand::json_type::boolean:
				AppendScalar(doc, field, document.get_bool().value(), leaf_kind_, column_, notes_);
				return;
			case ondemand::json_type::null:
				if (!document.is_null().value())
					Fail("unexpected character");
				AppendScalar(doc, field, std::monostate{}, leaf_kind_, column_, notes_);
				return;
			default:
				AppendScalar(doc, field, Number(TrimJsonSpace(token)), leaf_kind_, column_, notes_);
				return;
			}
		} catch (const simdjson::simdjson_error &error) {
			Fail(JsonErrorText(error));
		}
	}

  private:
	static constexpr int kMaxDepth = 100; // BSON nests at most 100 levels in MongoDB

	[[noreturn]] void
	Fail(std::string_view what) const {
		throw std::runtime_error("column \"" + std::string(column_) + "\": invalid JSON (" + std::string(what) + ")");
	}

	// Number reads a number's text as the old reader did: an int64 when integral and in range, else a double.
	Value
	Number(std::string_view number) const {
		bool integral =
			number.find_first_of(".eE+") == std::string_view::npos && number.find('-', 1) == std::string_view::npos;
		if (integral) {
			std::int64_t integer = 0;
			auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), integer);
			if (error == std::errc() && end == number.data() + number.size())
				return integer;
		}
		std::string copy(number);
		char *end = nullptr;
		errno = 0;
		double real = std::strtod(copy.c_str(), &end);
		if (copy.empty() || end != copy.c_str() + copy.size())
			Fail("bad number");
		return real;
	}

	void
	AppendValue(bson_t *doc, std::string_view field, ondemand::value value, int depth) {
		if (depth > kMaxDepth)
			Fail("nested too deep");
		switch (value.type().value()) {
		case ondemand::json_type::object: {
			bson_t child;
			Check(bson_append_document_begin(doc, field.data(), KeyLength(field), &child), field);
			// objects are json content: their members map naturally whatever the leaf kind
			Kind saved = leaf_kind_;
			leaf_kind_ = Kind::Json;
			// named: a range over value()'s result would refer into a destroyed temporary
			ondemand::object object_of_member = value.get_object().value();
			for (auto member : object_of_member) {
				std::string_view raw_key = member.unescaped_key().value();
				std::string escaped = NeedsEscape(raw_key) ? MongoFieldName(raw_key) : std::string();
				std::string_view key = escaped.empty() ? raw_key : std::string_view(escaped);
				if (key.empty()) // the driver's validation is off (mongo_sink.cpp): refuse here what it refused
					throw std::runtime_error("column \"" + std::string(column_) +
											 "\": a JSON object has an empty key, which MongoDB does not store");
				AppendValue(&child, key, member.value().value(), depth + 1);
			}
			leaf_kind_ = saved;
			Check(bson_append_document_end(doc, &child), field);
			return;
		}
		case ondemand::json_type::array: {
			bson_t child;
			Check(bson_append_array_begin(doc, field.data(), KeyLength(field), &child), field);
			std::uint32_t index = 0;
			// named: a range over value()'s result would refer into a destroyed temporary
			ondemand::array array_of_element = value.get_array().value();
			for (auto element : array_of_element) {
				char buffer[16];
				const char *key = nullptr;
				std::size_t length = bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
				AppendValue(&child, std::string_view(key, length), element.value(), depth + 1);
			}
			Check(bson_append_array_end(doc, &child), field);
			return;
		}
		case ondemand::json_type::string:
			AppendScalar(doc, field, value.get_string().value(), leaf_kind_, column_, notes_);
			return;
		case ondemand::json_type::boolean:
			AppendScalar(doc, field, value.get_bool().value(), leaf_kind_, column_, notes_);
			return;
		case ondemand::json_type::null:
			if (!value.is_null())
				Fail("unexpected character");
			AppendScalar(doc, field, std::monostate{}, leaf_kind_, column_, notes_);
			return;
		case ondemand::json_type::number:
			AppendScalar(doc, field, Number(TrimJsonSpace(value.raw_json_token())), leaf_kind_, column_, notes_);
			return;
		}
	}

	std::string_view text_;
	Kind leaf_kind_;
	std::string_view column_;
	MappingNotes &notes_;
};

void
AppendScalar(bson_t *doc, std::string_view field, const Value &value, Kind kind, std::string_view column,
			 MappingNotes &notes) {
	if (IsNull(value)) {
		Check(bson_append_null(doc, field.data(), KeyLength(field)), field);
		return;
	}
	if (const bool *flag = std::get_if<bool>(&value)) {
		Check(bson_append_bool(doc, field.data(), KeyLength(field), *flag), field);
		return;
	}
	if (const std::int64_t *integer = std::get_if<std::int64_t>(&value)) {
		switch (kind) {
		case Kind::Float:
			Check(bson_append_double(doc, field.data(), KeyLength(field), static_cast<double>(*integer)), field);
			return;
		case Kind::Numeric:
			AppendNumeric(doc, field, std::to_string(*integer), column, notes);
			return;
		case Kind::Int32:
		case Kind::Json:
		case Kind::JsonText:
			AppendInteger(doc, field, *integer, true);
			return;
		default:
			AppendInteger(doc, field, *integer, false);
			return;
		}
	}
	if (const double *real = std::get_if<double>(&value)) {
		Check(bson_append_double(doc, field.data(), KeyLength(field), *real), field);
		return;
	}
	if (const RawJson *json = std::get_if<RawJson>(&value)) {
		JsonToBson(json->text, kind == Kind::Other ? Kind::Json : kind, column, notes).AppendAll(doc, field);
		return;
	}
	std::string_view text = std::get<std::string_view>(value);
	switch (kind) {
	case Kind::JsonText: // a json value's text (format version 2), in a column or an array element
		JsonToBson(text, Kind::Json, column, notes).AppendAll(doc, field);
		return;
	case Kind::Numeric:
		AppendNumeric(doc, field, std::string(text), column, notes);
		return;
	case Kind::Float: {
		double special = std::numeric_limits<double>::quiet_NaN();
		if (text == "Infinity")
			special = std::numeric_limits<double>::infinity();
		else if (text == "-Infinity")
			special = -std::numeric_limits<double>::infinity();
		else if (text != "NaN")
			break;
		Check(bson_append_double(doc, field.data(), KeyLength(field), special), field);
		return;
	}
	case Kind::Timestamp:
	case Kind::Date:
		AppendDateText(doc, field, std::string(text), column, notes);
		return;
	case Kind::Uuid:
		if (std::optional<std::string> bytes = ParseUuid(text)) {
			AppendBinary(doc, field, BSON_SUBTYPE_UUID, *bytes);
			return;
		}
		break;
	case Kind::Bytea:
		if (std::optional<std::string> bytes = ParseByteaHex(text)) {
			AppendBinary(doc, field, BSON_SUBTYPE_BINARY, *bytes);
			return;
		}
		break;
	default:
		break;
	}
	AppendUtf8(doc, field, text);
}

// FindColumn returns the column called name in row, or null.
const Column *
FindColumn(const std::vector<Column> &row, std::string_view name) {
	auto found = std::find_if(row.begin(), row.end(), [&](const Column &column) { return column.name == name; });
	return found == row.end() ? nullptr : &*found;
}

// TypeOfColumn returns how column maps: from its relation column when the decoder resolved it (classified once per
// relation), else by looking its name up in change's types.
PgType
TypeOfColumn(const Change &change, const Column &column) {
	if (column.declared != nullptr)
		return ReadPgType(column.declared->classified);
	return ReadPgType(ClassifyPgType(change.TypeOf(column.name)));
}

// IsJsonColumn tells whether pg_type is a json or jsonb column's own type (not an array of them).
bool
IsJsonColumn(PgType pg_type) noexcept {
	return pg_type.kind == Kind::JsonText && pg_type.dims == 0;
}

// OmitsValue is MongoOmitsColumn for a type already mapped: SQL NULL of a json column is no field.
bool
OmitsValue(const Value &value, PgType pg_type) noexcept {
	return IsNull(value) && IsJsonColumn(pg_type);
}

// AppendMapped appends value as AppendMongoValue does, for a type already mapped.
void
AppendMapped(bson_t *doc, std::string_view field, const Value &value, PgType pg_type, std::string_view column,
			 MappingNotes &notes) {
	// a json column's own value (not an array of them): a version-1 object, array or scalar is natural JSON
	if (IsJsonColumn(pg_type) && !std::holds_alternative<std::string_view>(value))
		pg_type.kind = Kind::Json;
	AppendScalar(doc, field, value, pg_type.kind, column, notes);
}

// AppendColumn appends column under its escaped name (no copy of the name when it needs no escape).
void
AppendColumn(bson_t *doc, const Column &column, PgType pg_type, MappingNotes &notes) {
	if (NeedsEscape(column.name))
		AppendMapped(doc, MongoFieldName(column.name), column.value, pg_type, column.name, notes);
	else
		AppendMapped(doc, column.name, column.value, pg_type, column.name, notes);
}

} // namespace

BsonHandle
NewBson() {
	BsonHandle doc(bson_new());
	if (!doc)
		throw std::bad_alloc();
	return doc;
}

std::string
MongoCollectionName(std::string_view schema, std::string_view table) {
	if (schema == "public" || schema.empty())
		return std::string(table);
	return std::string(schema) + "." + std::string(table);
}

std::string
MongoFieldName(std::string_view name) {
	if (name.find('\0') != std::string_view::npos)
		throw std::invalid_argument("a field name holds a NUL character, which BSON cannot store");
	std::string out;
	out.reserve(name.size());
	for (std::size_t i = 0; i < name.size(); ++i) {
		if (name[i] == '.')
			out += kDotReplacement;
		else if (name[i] == '$' && i == 0)
			out += kDollarReplacement;
		else
			out += name[i];
	}
	return out;
}

void
AppendMongoValue(bson_t *doc, std::string_view field, const Value &value, std::string_view type,
				 std::string_view column, MappingNotes &notes) {
	AppendMapped(doc, field, value, ReadPgType(ClassifyPgType(type)), column, notes);
}

bool
MongoOmitsColumn(const Change &change, const Column &column) {
	return IsNull(column.value) && OmitsValue(column.value, TypeOfColumn(change, column));
}

void
AppendJsonAsBson(bson_t *doc, std::string_view field, std::string_view json) {
	MappingNotes notes;
	JsonToBson(json, Kind::Json, field, notes).AppendAll(doc, field);
}

void
AppendMongoId(bson_t *doc, const Change &change, const std::vector<Column> &row, MappingNotes &notes,
			  const LegacyObjectId &legacy) {
	if (change.Key().empty())
		throw std::runtime_error("cannot replicate " + change.Schema() + "." + change.Table() +
								 " into MongoDB: the table has no key (primary key or replica identity index) to "
								 "make the documents' _id from; give it a primary key or exclude it from the rule");
	auto value_of = [&](const std::string &name) -> const Column & {
		const Column *column = FindColumn(row, name);
		if (column == nullptr)
			throw std::runtime_error("cannot apply " + std::string(OpName(change.op)) + " to " + change.Schema() + "." +
									 change.Table() + ": key column \"" + name + "\" is missing from the row image");
		return *column;
	};
	if (change.Key().size() == 1) {
		const Column &column = value_of(change.Key()[0]);
		const std::string_view *uuid = std::get_if<std::string_view>(&column.value);
		PgType type = TypeOfColumn(change, column);
		if (legacy && uuid != nullptr && type.kind == Kind::Uuid && type.dims == 0) {
			// a uuid id_map allocated for a legacy ObjectId: the document keeps its original _id
			if (std::optional<std::string> hex = legacy(change, std::string(*uuid));
				hex && bson_oid_is_valid(hex->c_str(), 24)) {
				bson_oid_t oid;
				bson_oid_init_from_string(&oid, hex->c_str());
				Check(bson_append_oid(doc, "_id", 3, &oid), "_id");
				return;
			}
		}
		AppendMapped(doc, "_id", column.value, type, column.name, notes);
		return;
	}
	bson_t id;
	Check(bson_append_document_begin(doc, "_id", 3, &id), "_id");
	for (const std::string &name : change.Key()) {
		const Column &column = value_of(name);
		AppendColumn(&id, column, TypeOfColumn(change, column), notes);
	}
	Check(bson_append_document_end(doc, &id), "_id");
}

BsonHandle
MongoIdFilter(const Change &change, const std::vector<Column> &row, MappingNotes &notes, const LegacyObjectId &legacy) {
	BsonHandle filter = NewBson();
	AppendMongoId(filter.get(), change, row, notes, legacy);
	return filter;
}

BsonHandle
MongoRowDocument(const Change &change, const std::vector<Column> &row, MappingNotes &notes,
				 const LegacyObjectId &legacy) {
	BsonHandle doc = NewBson();
	AppendMongoId(doc.get(), change, row, notes, legacy);
	AppendMongoColumns(doc.get(), change, row, notes);
	return doc;
}

void
AppendMongoColumns(bson_t *doc, const Change &change, const std::vector<Column> &row, MappingNotes &notes) {
	for (const Column &column : row) {
		if (column.name == "_id") {
			if (change.Key().size() == 1 && change.Key()[0] == "_id")
				continue; // already the document's _id
			throw std::runtime_error("cannot replicate " + change.Schema() + "." + change.Table() +
									 " into MongoDB: its column \"_id\" is not its one-column key, and _id is the "
									 "document's key; rename the column or make it the primary key");
		}
		PgType type = TypeOfColumn(change, column);
		if (OmitsValue(column.value, type))
			continue; // SQL NULL of a json column: no field, apart from a JSON null (BSON null)
		AppendColumn(doc, column, type, notes);
	}
}

std::string
BsonToRelaxedJson(const bson_t *doc) {
	std::size_t length = 0;
	char *json = bson_as_relaxed_extended_json(doc, &length);
	if (json == nullptr)
		return "(invalid BSON)";
	std::string out(json, length);
	bson_free(json);
	return out;
}

} // namespace mosta::sidecar
