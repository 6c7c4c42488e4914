/*
 * json_source.hpp
 *     cJSON ownership (RAII) and JsonSourceMap, which gives back the exact source text of the number, object and
 *     array items of a parsed document. cJSON keeps numbers only as doubles and re-prints containers in its own
 *     form; the change protocol needs 64-bit integers (bigint, oid: docs/protocol.md section 8) and json values
 *     kept as sent (whitespace, key order, duplicate keys), so both are read from the document's own text.
 */
#pragma once

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <cjson/cJSON.h>

namespace mosta::sidecar {

// CJsonDeleter frees a parsed tree with cJSON_Delete.
struct CJsonDeleter {
	// operator() releases root (never null: unique_ptr skips null).
	void
	operator()(cJSON *root) const noexcept {
		cJSON_Delete(root);
	}
};

// An owned cJSON tree.
using CJsonHandle = std::unique_ptr<cJSON, CJsonDeleter>;

// ParseJsonDocument parses text as one whole JSON value (nothing but whitespace after it); null when invalid.
CJsonHandle ParseJsonDocument(std::string_view text);

// JsonSourceMap records, for each number, object and array item of a tree, the slice of the text it came from.
class JsonSourceMap {
  public:
	// JsonSourceMap walks root and text in step; text must be the text root was parsed from (it is not copied).
	JsonSourceMap(const cJSON *root, std::string_view text);

	// TextOf returns the source text of a number, object or array item of the tree; throws std::logic_error for
	// any other item.
	std::string_view TextOf(const cJSON *item) const;

  private:
	std::vector<std::pair<const cJSON *, std::string_view>> spans_;
};

} // namespace mosta::sidecar
