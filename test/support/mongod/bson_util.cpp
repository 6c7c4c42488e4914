// bson_util.cpp
//     The value ordering, canonical keys and JSON rendering declared in bson_util.hpp.
#include "bson_util.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace mosta::testmongod {

bool
IsNumber(bson_type_t type) {
	return type == BSON_TYPE_INT32 || type == BSON_TYPE_INT64 || type == BSON_TYPE_DOUBLE ||
	       type == BSON_TYPE_DECIMAL128;
}

double
NumberAsDouble(const bson_value_t &value) {
	switch (value.value_type) {
	case BSON_TYPE_INT32:
		return value.value.v_int32;
	case BSON_TYPE_INT64:
		return static_cast<double>(value.value.v_int64);
	case BSON_TYPE_DOUBLE:
		return value.value.v_double;
	case BSON_TYPE_BOOL:
		return value.value.v_bool ? 1 : 0;
	default:
		return 0;
	}
}

int64_t
NumberAsInt64(const bson_value_t &value) {
	switch (value.value_type) {
	case BSON_TYPE_INT32:
		return value.value.v_int32;
	case BSON_TYPE_INT64:
		return value.value.v_int64;
	case BSON_TYPE_DOUBLE:
		return static_cast<int64_t>(value.value.v_double);
	case BSON_TYPE_BOOL:
		return value.value.v_bool ? 1 : 0;
	default:
		return 0;
	}
}

bool
Truthy(const bson_value_t &value) {
	switch (value.value_type) {
	case BSON_TYPE_BOOL:
		return value.value.v_bool;
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
	case BSON_TYPE_EOD:
		return false;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
		return NumberAsDouble(value) != 0;
	default:
		return true;
	}
}

bson_value_t
Int32Value(int32_t v) {
	bson_value_t value{};
	value.value_type = BSON_TYPE_INT32;
	value.value.v_int32 = v;
	return value;
}

bson_value_t
Int64Value(int64_t v) {
	bson_value_t value{};
	value.value_type = BSON_TYPE_INT64;
	value.value.v_int64 = v;
	return value;
}

bson_value_t
DoubleValue(double v) {
	bson_value_t value{};
	value.value_type = BSON_TYPE_DOUBLE;
	value.value.v_double = v;
	return value;
}

bson_value_t
NullValue() {
	bson_value_t value{};
	value.value_type = BSON_TYPE_NULL;
	return value;
}

int
TypeRank(bson_type_t type) {
	switch (type) {
	case BSON_TYPE_MINKEY:
		return 1;
	case BSON_TYPE_EOD:
	case BSON_TYPE_UNDEFINED:
	case BSON_TYPE_NULL:
		return 2;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE:
	case BSON_TYPE_DECIMAL128:
		return 3;
	case BSON_TYPE_UTF8:
	case BSON_TYPE_SYMBOL:
		return 4;
	case BSON_TYPE_DOCUMENT:
		return 5;
	case BSON_TYPE_ARRAY:
		return 6;
	case BSON_TYPE_BINARY:
		return 7;
	case BSON_TYPE_OID:
		return 8;
	case BSON_TYPE_BOOL:
		return 9;
	case BSON_TYPE_DATE_TIME:
		return 10;
	case BSON_TYPE_TIMESTAMP:
		return 11;
	case BSON_TYPE_REGEX:
		return 12;
	case BSON_TYPE_MAXKEY:
		return 14;
	default:
		return 13;
	}
}

namespace {

template <typename T>
int
Cmp(const T &a, const T &b) {
	return a < b ? -1 : (b < a ? 1 : 0);
}

int
CompareBytes(const void *a, size_t a_len, const void *b, size_t b_len) {
	int c = std::memcmp(a, b, std::min(a_len, b_len));
	if (c != 0)
		return c < 0 ? -1 : 1;
	return Cmp(a_len, b_len);
}

int
CompareNumbers(const bson_value_t &a, const bson_value_t &b) {
	bool a_int = a.value_type == BSON_TYPE_INT32 || a.value_type == BSON_TYPE_INT64;
	bool b_int = b.value_type == BSON_TYPE_INT32 || b.value_type == BSON_TYPE_INT64;
	if (a_int && b_int)
		return Cmp(NumberAsInt64(a), NumberAsInt64(b));
	long double x = a_int ? static_cast<long double>(NumberAsInt64(a)) : NumberAsDouble(a);
	long double y = b_int ? static_cast<long double>(NumberAsInt64(b)) : NumberAsDouble(b);
	if (std::isnan(x) || std::isnan(y))
		return Cmp(!std::isnan(x), !std::isnan(y)); // NaN sorts below every number
	return Cmp(x, y);
}

// Documents and arrays: element by element, by type rank, then field name (documents), then value.
int
CompareContainers(const bson_value_t &a, const bson_value_t &b, bool names) {
	bson_t doc_a, doc_b;
	if (!bson_init_static(&doc_a, a.value.v_doc.data, a.value.v_doc.data_len) ||
	    !bson_init_static(&doc_b, b.value.v_doc.data, b.value.v_doc.data_len))
		return 0;
	bson_iter_t it_a, it_b;
	bson_iter_init(&it_a, &doc_a);
	bson_iter_init(&it_b, &doc_b);
	for (;;) {
		bool more_a = bson_iter_next(&it_a), more_b = bson_iter_next(&it_b);
		if (!more_a || !more_b)
			return Cmp(more_a, more_b);
		int c = Cmp(TypeRank(bson_iter_type(&it_a)), TypeRank(bson_iter_type(&it_b)));
		if (c == 0 && names) {
			int s = std::strcmp(bson_iter_key(&it_a), bson_iter_key(&it_b));
			c = s < 0 ? -1 : (s > 0 ? 1 : 0);
		}
		if (c == 0)
			c = CompareValues(*bson_iter_value(&it_a), *bson_iter_value(&it_b));
		if (c != 0)
			return c;
	}
}

} // namespace

int
CompareValues(const bson_value_t &a, const bson_value_t &b) {
	int rank = TypeRank(a.value_type);
	int c = Cmp(rank, TypeRank(b.value_type));
	if (c != 0)
		return c;
	switch (rank) {
	case 3:
		return CompareNumbers(a, b);
	case 4:
		return CompareBytes(a.value.v_utf8.str, a.value.v_utf8.len, b.value.v_utf8.str, b.value.v_utf8.len);
	case 5:
		return CompareContainers(a, b, true);
	case 6:
		return CompareContainers(a, b, false);
	case 7:
		c = Cmp(a.value.v_binary.data_len, b.value.v_binary.data_len);
		if (c == 0)
			c = Cmp(static_cast<int>(a.value.v_binary.subtype), static_cast<int>(b.value.v_binary.subtype));
		if (c == 0)
			c = CompareBytes(a.value.v_binary.data, a.value.v_binary.data_len, b.value.v_binary.data,
			                 b.value.v_binary.data_len);
		return c;
	case 8:
		c = bson_oid_compare(&a.value.v_oid, &b.value.v_oid);
		return c < 0 ? -1 : (c > 0 ? 1 : 0);
	case 9:
		return Cmp(a.value.v_bool, b.value.v_bool);
	case 10:
		return Cmp(a.value.v_datetime, b.value.v_datetime);
	case 11:
		c = Cmp(a.value.v_timestamp.timestamp, b.value.v_timestamp.timestamp);
		return c != 0 ? c : Cmp(a.value.v_timestamp.increment, b.value.v_timestamp.increment);
	case 12: {
		int s = std::strcmp(a.value.v_regex.regex, b.value.v_regex.regex);
		if (s == 0)
			s = std::strcmp(a.value.v_regex.options, b.value.v_regex.options);
		return s < 0 ? -1 : (s > 0 ? 1 : 0);
	}
	default:
		return 0;
	}
}

bool
ValuesEqual(const bson_value_t &a, const bson_value_t &b) {
	return CompareValues(a, b) == 0;
}

std::string
CanonicalKey(const bson_value_t &value) {
	std::string key(1, static_cast<char>('a' + TypeRank(value.value_type)));
	switch (value.value_type) {
	case BSON_TYPE_EOD:
	case BSON_TYPE_NULL:
	case BSON_TYPE_UNDEFINED:
	case BSON_TYPE_MINKEY:
	case BSON_TYPE_MAXKEY:
		return key;
	case BSON_TYPE_INT32:
	case BSON_TYPE_INT64:
	case BSON_TYPE_DOUBLE: {
		double d = NumberAsDouble(value);
		if (value.value_type != BSON_TYPE_DOUBLE ||
		    (std::trunc(d) == d && std::fabs(d) < 9.2e18)) {
			int64_t i = value.value_type == BSON_TYPE_DOUBLE ? static_cast<int64_t>(d) : NumberAsInt64(value);
			return key + "i" + std::to_string(i);
		}
		char buffer[sizeof d];
		std::memcpy(buffer, &d, sizeof d);
		return key + "d" + std::string(buffer, sizeof buffer);
	}
	case BSON_TYPE_UTF8:
	case BSON_TYPE_SYMBOL:
		return key + std::string(value.value.v_utf8.str, value.value.v_utf8.len);
	case BSON_TYPE_DOCUMENT:
	case BSON_TYPE_ARRAY: {
		bson_t doc;
		if (!bson_init_static(&doc, value.value.v_doc.data, value.value.v_doc.data_len))
			return key;
		bson_iter_t it;
		bson_iter_init(&it, &doc);
		while (bson_iter_next(&it)) {
			std::string element = CanonicalKey(*bson_iter_value(&it));
			if (value.value_type == BSON_TYPE_DOCUMENT)
				key += std::to_string(std::strlen(bson_iter_key(&it))) + ":" + bson_iter_key(&it);
			key += std::to_string(element.size()) + ":" + element;
		}
		return key;
	}
	default: {
		BsonPtr holder = NewBson();
		bson_append_value(holder.get(), "", 0, &value);
		// Skip the 4-byte length, the type byte and the empty key's NUL; drop the final NUL.
		const uint8_t *data = bson_get_data(holder.get());
		return key + std::string(reinterpret_cast<const char *>(data) + 6, holder->len - 7);
	}
	}
}

std::string
ValueToJson(const bson_value_t &value) {
	BsonPtr holder = NewBson();
	bson_append_value(holder.get(), "v", 1, &value);
	std::string json = DocToJson(holder.get());
	// {"v" : X } → X
	auto start = json.find(':');
	if (start == std::string::npos || json.size() < start + 4)
		return json;
	return json.substr(start + 2, json.size() - start - 4);
}

std::string
DocToJson(const bson_t *doc) {
	size_t length = 0;
	char *json = bson_as_relaxed_extended_json(doc, &length);
	if (!json)
		return "{}";
	std::string result(json, length);
	bson_free(json);
	return result;
}

std::vector<std::string>
SplitPath(std::string_view path) {
	std::vector<std::string> parts;
	size_t start = 0;
	for (;;) {
		size_t dot = path.find('.', start);
		parts.emplace_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
		if (dot == std::string_view::npos)
			return parts;
		start = dot + 1;
	}
}

} // namespace mosta::testmongod
