// bson_util.hpp
//     RAII handles and small helpers around libbson for mosta-test-mongod: an owning BsonPtr
//     (bson_destroy), a non-copyable StaticBson view over bytes someone else owns, the MongoDB
//     ordering of values (CompareValues), a canonical key for _id and unique-index lookups, and
//     CommandError, the exception every command handler throws for an {ok: 0} reply.
#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mosta::testmongod {

struct BsonDeleter {
	void
	operator()(bson_t *doc) const noexcept {
		bson_destroy(doc);
	}
};
using BsonPtr = std::unique_ptr<bson_t, BsonDeleter>;

inline BsonPtr
NewBson() {
	return BsonPtr(bson_new());
}

inline BsonPtr
CopyBson(const bson_t *doc) {
	return BsonPtr(bson_copy(doc));
}

// A read-only bson_t over bytes owned elsewhere. bson_init_static points the bson_t at itself,
// so it must never be copied or moved.
class StaticBson {
public:
	StaticBson(const uint8_t *data, uint32_t length) {
		if (!bson_init_static(&doc_, data, length))
			throw std::runtime_error("invalid BSON document");
	}
	// The embedded document or array the iterator is on.
	explicit StaticBson(const bson_iter_t *iter) {
		uint32_t length = 0;
		const uint8_t *data = nullptr;
		if (BSON_ITER_HOLDS_DOCUMENT(iter))
			bson_iter_document(iter, &length, &data);
		else
			bson_iter_array(iter, &length, &data);
		if (!data || !bson_init_static(&doc_, data, length))
			throw std::runtime_error("invalid embedded BSON document");
	}
	StaticBson(const StaticBson &) = delete;
	StaticBson &operator=(const StaticBson &) = delete;
	const bson_t *
	get() const {
		return &doc_;
	}

private:
	bson_t doc_;
};

// A command failure: becomes {ok: 0, errmsg, code, codeName}, or a writeErrors entry.
struct CommandError : std::runtime_error {
	CommandError(int error_code, std::string error_name, const std::string &message)
	    : std::runtime_error(message), code(error_code), code_name(std::move(error_name)) {
	}
	int code;
	std::string code_name;
};

// MongoDB's comparison order of BSON values (numbers across types; missing compares as null).
int TypeRank(bson_type_t type);
int CompareValues(const bson_value_t &a, const bson_value_t &b);
bool ValuesEqual(const bson_value_t &a, const bson_value_t &b);
// Equal values (in the CompareValues sense) give equal keys.
std::string CanonicalKey(const bson_value_t &value);
// Relaxed extended JSON of one value, for error messages.
std::string ValueToJson(const bson_value_t &value);
std::string DocToJson(const bson_t *doc);

bool IsNumber(bson_type_t type);
double NumberAsDouble(const bson_value_t &value);
int64_t NumberAsInt64(const bson_value_t &value);
bool Truthy(const bson_value_t &value);

bson_value_t Int32Value(int32_t value);
bson_value_t Int64Value(int64_t value);
bson_value_t DoubleValue(double value);
bson_value_t NullValue();

std::vector<std::string> SplitPath(std::string_view path);

} // namespace mosta::testmongod
