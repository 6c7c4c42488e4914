// bson_doc.hpp: test helpers: a document read from relaxed/canonical extended JSON, owned.
#pragma once

#include <string>
#include <utility>

#include <bson/bson.h>
#include <gtest/gtest.h>

namespace mosta::mapping::testing {

// BsonPtr owns a document read from JSON (bson_t's alignment attribute rules out std::unique_ptr<bson_t>).
class BsonPtr {
  public:
	explicit BsonPtr(bson_t *doc = nullptr) : doc_(doc) {}
	BsonPtr(BsonPtr &&other) noexcept : doc_(std::exchange(other.doc_, nullptr)) {}
	BsonPtr &
	operator=(BsonPtr &&other) noexcept {
		std::swap(doc_, other.doc_);
		return *this;
	}
	~BsonPtr() {
		if (doc_)
			bson_destroy(doc_);
	}
	bson_t *
	get() const noexcept {
		return doc_;
	}
	explicit operator bool() const noexcept {
		return doc_ != nullptr;
	}

  private:
	bson_t *doc_;
};

inline BsonPtr
Json(const std::string &json) {
	bson_error_t error;
	bson_t *doc =
		bson_new_from_json(reinterpret_cast<const uint8_t *>(json.data()), static_cast<ssize_t>(json.size()), &error);
	EXPECT_NE(doc, nullptr) << json << ": " << error.message;
	return BsonPtr(doc);
}

} // namespace mosta::mapping::testing
