/*
 * verify_mongo.cpp
 *     BSON → canonical text and the reading of a MongoDB target for mosta-sidecar verify (see verify_mongo.hpp and
 *     docs/verification.md, "The MongoDB side").
 */
#include "app/verify_mongo.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>

#include "mosta/common/pg_types.hpp"
#include "mosta/common/canonical_row.hpp"
#include "sink/mongo_bson.hpp"
#include "sink/mongo_mapping_uri.hpp"

namespace mosta::sidecar {

namespace {

constexpr std::string_view kDotReplacement = "\xEF\xBC\x8E";
constexpr std::string_view kDollarReplacement = "\xEF\xBC\x84";

constexpr std::int64_t kMillisPerDay = 86'400'000;

// How a source column's values read back (the base type of an array column: see ColumnType::dims).
enum class Kind { Integer, Numeric, Float4, Float8, Bool, Timestamptz, Timestamp, Date, Uuid, Bytea, Json, Text };

struct ColumnType {
	Kind kind = Kind::Text;
	int dims = 0;
};

// ReadColumnType classifies a type by the type table (mosta/common/pg_types.hpp).
ColumnType
ReadColumnType(std::string_view type) {
	PgColumnType column = ClassifyPgType(type);
	ColumnType result;
	result.dims = column.dims;
	switch (column.info->kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
		result.kind = Kind::Integer;
		break;
	case PgTypeKind::Numeric:
		result.kind = Kind::Numeric;
		break;
	case PgTypeKind::Float4:
		result.kind = Kind::Float4;
		break;
	case PgTypeKind::Float8:
		result.kind = Kind::Float8;
		break;
	case PgTypeKind::Bool:
		result.kind = Kind::Bool;
		break;
	case PgTypeKind::Timestamptz:
		result.kind = Kind::Timestamptz;
		break;
	case PgTypeKind::Timestamp:
		result.kind = Kind::Timestamp;
		break;
	case PgTypeKind::Date:
		result.kind = Kind::Date;
		break;
	case PgTypeKind::Uuid:
		result.kind = Kind::Uuid;
		break;
	case PgTypeKind::Bytea:
		result.kind = Kind::Bytea;
		break;
	case PgTypeKind::Json:
	case PgTypeKind::Jsonb:
		result.kind = Kind::Json;
		break;
	case PgTypeKind::Text:
	case PgTypeKind::User:
		result.kind = Kind::Text;
		break;
	}
	return result;
}

std::string
Hex(const std::uint8_t *bytes, std::uint32_t size) {
	static constexpr char kDigits[] = "0123456789abcdef";
	std::string out;
	out.reserve(size * 2);
	for (std::uint32_t i = 0; i < size; ++i) {
		out += kDigits[bytes[i] >> 4];
		out += kDigits[bytes[i] & 0xf];
	}
	return out;
}

// NumericText turns bson_decimal128_to_string's text ("12.50", "1.00E+3", "1E-7", "-0", "NaN", "Infinity") into
// numeric_out's plain text with the value's scale ("12.50", "1000", "0.0000001", "0").
std::string
NumericText(const bson_decimal128_t &decimal) {
	char buffer[BSON_DECIMAL128_STRING];
	bson_decimal128_to_string(&decimal, buffer);
	std::string_view text(buffer);
	if (text == "NaN" || text == "-NaN")
		return "NaN";
	if (text == "Infinity" || text == "Inf")
		return "Infinity";
	if (text == "-Infinity" || text == "-Inf")
		return "-Infinity";
	std::size_t pos = 0;
	bool negative = false;
	if (pos < text.size() && (text[pos] == '-' || text[pos] == '+'))
		negative = text[pos++] == '-';
	std::string digits;
	long long exponent = 0;
	bool dot = false;
	for (; pos < text.size() && text[pos] != 'E' && text[pos] != 'e'; ++pos) {
		if (text[pos] == '.') {
			dot = true;
		} else {
			digits += text[pos];
			if (dot)
				--exponent;
		}
	}
	if (pos < text.size()) {
		long long written = 0;
		std::string_view rest = text.substr(pos + 1);
		if (!rest.empty() && rest[0] == '+')
			rest.remove_prefix(1);
		std::from_chars(rest.data(), rest.data() + rest.size(), written);
		exponent += written;
	}
	std::string out;
	if (exponent >= 0) {
		out = digits + std::string(static_cast<std::size_t>(exponent), '0');
		std::size_t first = out.find_first_not_of('0');
		out = first == std::string::npos ? "0" : out.substr(first);
	} else {
		const auto scale = static_cast<std::size_t>(-exponent);
		if (digits.size() < scale + 1)
			digits.insert(0, scale + 1 - digits.size(), '0');
		std::size_t integer_digits = digits.size() - scale;
		std::string integer = digits.substr(0, integer_digits);
		std::size_t first = integer.find_first_not_of('0');
		integer = first == std::string::npos ? "0" : integer.substr(first);
		out = integer + "." + digits.substr(integer_digits);
	}
	if (negative && out.find_first_not_of("0.") != std::string::npos)
		out.insert(0, "-");
	return out;
}

// CivilFromDays returns the proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
void
CivilFromDays(std::int64_t days, std::int64_t &year, unsigned &month, unsigned &day) {
	days += 719468;
	const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	const auto day_of_era = static_cast<unsigned>(days - era * 146097);
	const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
	const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
	const unsigned mp = (5 * day_of_year + 2) / 153;
	day = day_of_year - (153 * mp + 2) / 5 + 1;
	month = mp < 10 ? mp + 3 : mp - 9;
	year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
}

// DateText writes UTC milliseconds as the plugin writes a date, timestamp or timestamptz (astronomical years, at
// least four digits; fractional seconds without trailing zeros).
std::string
DateText(std::int64_t millis, Kind kind) {
	std::int64_t days = millis / kMillisPerDay;
	std::int64_t rest = millis % kMillisPerDay;
	if (rest < 0) {
		rest += kMillisPerDay;
		--days;
	}
	std::int64_t year = 0;
	unsigned month = 0, day = 0;
	CivilFromDays(days, year, month, day);
	char buffer[64];
	std::snprintf(buffer, sizeof buffer, "%s%04lld-%02u-%02u", year < 0 ? "-" : "",
				  static_cast<long long>(year < 0 ? -year : year), month, day);
	std::string out = buffer;
	if (kind == Kind::Date)
		return out;
	const std::int64_t seconds = rest / 1000;
	std::snprintf(buffer, sizeof buffer, "T%02lld:%02lld:%02lld", static_cast<long long>(seconds / 3600),
				  static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
	out += buffer;
	if (rest % 1000 != 0) {
		std::snprintf(buffer, sizeof buffer, ".%03lld", static_cast<long long>(rest % 1000));
		std::string fraction = buffer;
		while (fraction.back() == '0')
			fraction.pop_back();
		out += fraction;
	}
	if (kind != Kind::Timestamp)
		out += "+00:00";
	return out;
}

std::string
UuidText(const std::uint8_t *bytes) {
	std::string hex = Hex(bytes, 16);
	return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
		   hex.substr(20);
}

// FloatText prints a number of a float column as PostgreSQL does.
std::string
FloatText(double value, Kind kind) {
	return kind == Kind::Float4 ? FormatPgFloat4(static_cast<float>(value)) : FormatPgFloat8(value);
}

// JsonbNumber prints a double of a json value as jsonb's numeric text would read (fixed notation, shortest digits).
std::string
JsonbNumber(double value) {
	char buffer[512];
	auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed);
	if (error != std::errc())
		return FormatPgFloat8(value);
	return std::string(buffer, end);
}

// ValueText returns the canonical text of a value for a column of type (nullopt for null).
std::optional<std::string> ValueText(const bson_iter_t *iter, ColumnType type);

// AppendJsonb writes a document or array the way jsonb_out prints it ({"a": 1, "b": [1, "x"]}).
void
AppendJsonb(std::string &out, const bson_iter_t *iter) {
	const bson_type_t bson_type = bson_iter_type(iter);
	if (bson_type == BSON_TYPE_DOCUMENT || bson_type == BSON_TYPE_ARRAY) {
		const bool object = bson_type == BSON_TYPE_DOCUMENT;
		bson_iter_t child;
		out += object ? '{' : '[';
		bool first = true;
		if (bson_iter_recurse(iter, &child)) {
			while (bson_iter_next(&child)) {
				out += first ? "" : ", ";
				first = false;
				if (object) {
					out += JsonQuote(UnescapeMongoFieldName(bson_iter_key(&child)));
					out += ": ";
				}
				AppendJsonb(out, &child);
			}
		}
		out += object ? '}' : ']';
		return;
	}
	switch (bson_type) {
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
		out += "null";
		return;
	case BSON_TYPE_BOOL:
		out += bson_iter_bool(iter) ? "true" : "false";
		return;
	case BSON_TYPE_INT32:
		out += std::to_string(bson_iter_int32(iter));
		return;
	case BSON_TYPE_INT64:
		out += std::to_string(bson_iter_int64(iter));
		return;
	case BSON_TYPE_DOUBLE:
		out += JsonbNumber(bson_iter_double(iter));
		return;
	case BSON_TYPE_DECIMAL128: {
		bson_decimal128_t decimal;
		bson_iter_decimal128(iter, &decimal);
		out += NumericText(decimal);
		return;
	}
	default: {
		std::optional<std::string> text = ValueText(iter, ColumnType{Kind::Text, 0});
		out += text ? JsonQuote(*text) : "null";
		return;
	}
	}
}

// QuotedInArray tells whether the plugin writes an element of this kind as a JSON string.
bool
QuotedInArray(Kind kind) {
	return kind != Kind::Integer && kind != Kind::Float4 && kind != Kind::Float8 && kind != Kind::Bool &&
		   kind != Kind::Json;
}

// AppendArrayElement writes an element of an array column the way the plugin embeds arrays ([1,null,3], ["a"]);
// top is the column's array itself (of a json[] column too, whose nested arrays are json values).
void
AppendArrayElement(std::string &out, const bson_iter_t *iter, Kind kind, bool top = false) {
	const bson_type_t bson_type = bson_iter_type(iter);
	if (bson_type == BSON_TYPE_ARRAY && (kind != Kind::Json || top)) {
		bson_iter_t child;
		out += '[';
		bool first = true;
		if (bson_iter_recurse(iter, &child)) {
			while (bson_iter_next(&child)) {
				out += first ? "" : ",";
				first = false;
				AppendArrayElement(out, &child, kind);
			}
		}
		out += ']';
		return;
	}
	if (kind == Kind::Json) {
		// an element of a json[]/jsonb[] is the JSON string of its text (format version 2); SQL NULL and JSON null
		// elements are both BSON null in MongoDB, read as SQL NULL (docs/verification.md)
		if (bson_type == BSON_TYPE_NULL || bson_type == BSON_TYPE_UNDEFINED) {
			out += "null";
			return;
		}
		std::string text;
		AppendJsonb(text, iter);
		out += JsonQuote(text);
		return;
	}
	if (bson_type == BSON_TYPE_DOCUMENT) {
		AppendJsonb(out, iter);
		return;
	}
	std::optional<std::string> text = ValueText(iter, ColumnType{kind, 0});
	if (!text) {
		out += "null";
		return;
	}
	// NaN and the infinities of a float are JSON strings, as are strings that stayed strings
	bool quoted = QuotedInArray(kind) || bson_type == BSON_TYPE_UTF8 ||
				  ((kind == Kind::Float4 || kind == Kind::Float8) &&
				   (*text == "NaN" || *text == "Infinity" || *text == "-Infinity"));
	out += quoted ? JsonQuote(*text) : *text;
}

std::optional<std::string>
ValueText(const bson_iter_t *iter, ColumnType type) {
	const bson_type_t bson_type = bson_iter_type(iter);
	if (type.kind == Kind::Json && type.dims == 0) {
		// a json column's value is its JSON text: BSON null is the JSON null; SQL NULL is a missing field
		std::string out;
		AppendJsonb(out, iter);
		return out;
	}
	if (bson_type == BSON_TYPE_NULL || bson_type == BSON_TYPE_UNDEFINED)
		return std::nullopt;
	if (type.dims > 0 && bson_type == BSON_TYPE_ARRAY) {
		std::string out;
		AppendArrayElement(out, iter, type.kind, true);
		return out;
	}
	switch (bson_type) {
	case BSON_TYPE_BOOL:
		return bson_iter_bool(iter) ? "true" : "false";
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64: {
		const std::int64_t value = bson_type == BSON_TYPE_INT32 ? bson_iter_int32(iter) : bson_iter_int64(iter);
		if (type.kind == Kind::Float4 || type.kind == Kind::Float8)
			return FloatText(static_cast<double>(value), type.kind);
		return std::to_string(value);
	}
	case BSON_TYPE_DOUBLE:
		return FloatText(bson_iter_double(iter), type.kind);
	case BSON_TYPE_DECIMAL128: {
		bson_decimal128_t decimal;
		bson_iter_decimal128(iter, &decimal);
		return NumericText(decimal);
	}
	case BSON_TYPE_DATE_TIME:
		return DateText(bson_iter_date_time(iter),
						type.kind == Kind::Timestamp || type.kind == Kind::Date ? type.kind : Kind::Timestamptz);
	case BSON_TYPE_BINARY: {
		bson_subtype_t subtype;
		std::uint32_t size = 0;
		const std::uint8_t *bytes = nullptr;
		bson_iter_binary(iter, &subtype, &size, &bytes);
		if (subtype == BSON_SUBTYPE_UUID && size == 16 && type.kind != Kind::Bytea)
			return UuidText(bytes);
		return "\\x" + Hex(bytes, size);
	}
	case BSON_TYPE_UTF8: {
		std::uint32_t length = 0;
		const char *text = bson_iter_utf8(iter, &length);
		return std::string(text, length);
	}
	case BSON_TYPE_OID: {
		char hex[25];
		bson_oid_to_string(bson_iter_oid(iter), hex);
		return std::string(hex);
	}
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY: {
		std::string out;
		AppendJsonb(out, iter);
		return out;
	}
	default:
		return "(BSON type " + std::to_string(static_cast<int>(bson_type)) + ")";
	}
}

// Fields maps the un-escaped field names of a document to their values.
std::map<std::string, bson_iter_t>
Fields(const bson_iter_t *document) {
	std::map<std::string, bson_iter_t> fields;
	bson_iter_t child;
	if (bson_iter_recurse(document, &child))
		while (bson_iter_next(&child))
			fields.emplace(UnescapeMongoFieldName(bson_iter_key(&child)), child);
	return fields;
}

const std::string &
TypeOf(const std::vector<VerifyColumn> &columns, const std::string &name) {
	static const std::string kText = "text";
	for (const VerifyColumn &column : columns)
		if (column.name == name)
			return column.type;
	return kText;
}

} // namespace

bool
MongoVerifyExcluded(std::string_view type) {
	return ClassifyPgType(type).info->kind == PgTypeKind::Json;
}

std::optional<std::string>
BsonCanonicalText(const bson_iter_t *iter, std::string_view type) {
	if (iter == nullptr)
		return std::nullopt;
	return ValueText(iter, ReadColumnType(type));
}

std::string
UnescapeMongoFieldName(std::string_view field) {
	std::string out;
	out.reserve(field.size());
	std::size_t pos = 0;
	if (field.substr(0, kDollarReplacement.size()) == kDollarReplacement) {
		out += '$';
		pos = kDollarReplacement.size();
	}
	while (pos < field.size()) {
		if (field.substr(pos, kDotReplacement.size()) == kDotReplacement) {
			out += '.';
			pos += kDotReplacement.size();
		} else {
			out += field[pos++];
		}
	}
	return out;
}

MongoRow
MongoDocumentRow(const bson_t *doc, const std::vector<VerifyColumn> &columns, const std::vector<std::string> &key) {
	bson_iter_t root;
	std::map<std::string, bson_iter_t> fields;
	if (bson_iter_init(&root, doc))
		while (bson_iter_next(&root))
			fields.emplace(UnescapeMongoFieldName(bson_iter_key(&root)), root);
	auto id = fields.find("_id");
	// the key columns' values as the _id holds them
	std::map<std::string, bson_iter_t> id_fields;
	if (id != fields.end() && key.size() == 1)
		id_fields.emplace(key[0], id->second);
	else if (id != fields.end() && key.size() > 1 && bson_iter_type(&id->second) == BSON_TYPE_DOCUMENT)
		id_fields = Fields(&id->second);
	std::vector<CanonicalColumn> row;
	for (const VerifyColumn &column : columns) {
		auto found = fields.find(column.name);
		const bson_iter_t *value = nullptr;
		if (found != fields.end())
			value = &found->second;
		else if (auto from_id = id_fields.find(column.name); from_id != id_fields.end())
			value = &from_id->second;
		row.push_back({column.name, BsonCanonicalText(value, column.type)});
	}
	MongoRow result;
	for (const CanonicalColumn &column : row)
		result.values.push_back(column.value);
	result.encoded = EncodeCanonicalRow(std::move(row));
	if (!key.empty()) {
		std::vector<std::optional<std::string>> values;
		if (key.size() > 1 && id != fields.end() && bson_iter_type(&id->second) != BSON_TYPE_DOCUMENT) {
			// not a composite _id (a document written by someone else): show it whole
			values.push_back(BsonCanonicalText(&id->second, "text"));
		} else {
			for (const std::string &name : key) {
				auto found = id_fields.find(name);
				values.push_back(
					BsonCanonicalText(found == id_fields.end() ? nullptr : &found->second, TypeOf(columns, name)));
			}
		}
		result.key = CanonicalKeyText(values);
	}
	return result;
}

std::string
MappedMirrorMapping(const std::string &uri) {
	try {
		return SplitMappingOption(uri).mapping_path;
	} catch (const std::invalid_argument &e) {
		throw MongoVerifyError(e.what());
	}
}

std::string
MappedMirrorNotVerified(const std::string &mapping_path) {
	return "a mapped mirror (" + std::string(kMappingUriOption) + "=" + mapping_path +
		   ") holds the legacy collections in their legacy shape, not the rule's tables: mosta-sidecar verify does "
		   "not verify mapped mirrors; compare it with `mosta-migrate verify " +
		   mapping_path + " --source MONGODB_URI --target CONNINFO` (docs/migration.md)";
}

MongoVerifyTarget::MongoVerifyTarget(const std::string &uri, const std::string &default_database) {
	if (std::string mapping_path = MappedMirrorMapping(uri); !mapping_path.empty())
		throw MongoVerifyError(MappedMirrorNotVerified(mapping_path));
	bson_error_t error;
	uri_.reset(mongoc_uri_new_with_error(uri.c_str(), &error));
	if (!uri_)
		throw MongoVerifyError(std::string("bad connection string: ") + error.message);
	const char *database = mongoc_uri_get_database(uri_.get());
	database_ = database != nullptr && database[0] != '\0' ? database : default_database;
	if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
	client_.reset(mongoc_client_new_from_uri_with_error(uri_.get(), &error));
	if (!client_)
		throw MongoVerifyError(std::string("cannot create a client: ") + error.message);
	BsonHandle ping(BCON_NEW("ping", BCON_INT32(1)));
	if (!mongoc_client_command_simple(client_.get(), database_.c_str(), ping.get(), nullptr, nullptr, &error))
		throw MongoVerifyError(std::string("cannot reach the server: ") + error.message);
}

VerifyTargetRows
MongoVerifyTarget::Read(const std::string &schema, const std::string &table, const std::vector<VerifyColumn> &columns,
						const std::vector<std::string> &key, const std::set<std::string> &wanted) {
	struct CollectionDeleter {
		void
		operator()(mongoc_collection_t *collection) const noexcept {
			mongoc_collection_destroy(collection);
		}
	};
	struct CursorDeleter {
		void
		operator()(mongoc_cursor_t *cursor) const noexcept {
			mongoc_cursor_destroy(cursor);
		}
	};
	const std::string name = MongoCollectionName(schema, table);
	std::unique_ptr<mongoc_collection_t, CollectionDeleter> collection(
		mongoc_client_get_collection(client_.get(), database_.c_str(), name.c_str()));
	BsonHandle filter = NewBson();
	std::unique_ptr<mongoc_cursor_t, CursorDeleter> cursor(
		mongoc_collection_find_with_opts(collection.get(), filter.get(), nullptr, nullptr));
	VerifyTargetRows target;
	target.exists = true; // a collection MongoDB never created holds no document
	ChecksumState state;
	const bson_t *doc = nullptr;
	while (mongoc_cursor_next(cursor.get(), &doc)) {
		MongoRow row = MongoDocumentRow(doc, columns, key);
		Hash128 hash = CanonicalRowHash(row.encoded.data(), row.encoded.size());
		state.Add(hash);
		if (!key.empty()) {
			char hex[kHash128HexSize + 1];
			FormatHash128(hash, hex);
			if (wanted.count(row.key) != 0)
				target.values[row.key] = std::move(row.values);
			target.hashes[row.key] = hex;
		}
	}
	bson_error_t error;
	if (mongoc_cursor_error(cursor.get(), &error))
		throw MongoVerifyError("reading " + database_ + "." + name + ": " + error.message);
	target.rows = static_cast<long long>(state.rows);
	target.checksum = state.Text();
	return target;
}

} // namespace mosta::sidecar
