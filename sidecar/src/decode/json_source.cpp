/*
 * json_source.cpp
 *     ParseJsonDocument and JsonSourceMap: a second, validating-free pass over text that cJSON has already
 *     accepted, in step with the tree, following cJSON 1.7's own lexical rules (whitespace is any byte <= 32, a
 *     UTF-8 BOM may open the text, a number is a run of [0-9+-.eE]).
 */
#include "decode/json_source.hpp"

#include <algorithm>
#include <functional>
#include <string>
#include <stdexcept>

namespace mosta::sidecar {

namespace {

// cJSON skips every byte up to and including the space as whitespace.
constexpr unsigned char kLastWhitespaceByte = 32;

// The UTF-8 byte order mark, which cJSON skips at the start of a text.
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// IsJsonWhitespace tells whether cJSON skips c between tokens.
bool
IsJsonWhitespace(char c) {
	return static_cast<unsigned char>(c) <= kLastWhitespaceByte;
}

// IsNumberChar tells whether c belongs to a number token as cJSON's parse_number reads it.
bool
IsNumberChar(char c) {
	return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E';
}

// SourceWalker moves through the text while visiting the tree in the same (document) order.
class SourceWalker {
  public:
	// SourceWalker starts at the beginning of text, after a BOM.
	SourceWalker(std::string_view text, std::vector<std::pair<const cJSON *, std::string_view>> &spans)
		: text_(text), spans_(spans) {
		if (text_.substr(0, kUtf8Bom.size()) == kUtf8Bom)
			pos_ = kUtf8Bom.size();
	}

	// Walk consumes the text of item (and its children), recording numbers and containers.
	void
	Walk(const cJSON *item) {
		SkipWhitespace();
		std::size_t start = pos_;
		if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
			bool is_object = cJSON_IsObject(item);
			Expect(is_object ? '{' : '[');
			for (const cJSON *child = item->child; child != nullptr; child = child->next) {
				if (child != item->child)
					Expect(',');
				if (is_object) {
					SkipWhitespace();
					SkipString();
					Expect(':');
				}
				Walk(child);
			}
			Expect(is_object ? '}' : ']');
			Record(item, start);
		} else if (cJSON_IsString(item)) {
			SkipString();
		} else if (cJSON_IsNumber(item)) {
			while (pos_ < text_.size() && IsNumberChar(text_[pos_]))
				++pos_;
			Record(item, start);
		} else {
			while (pos_ < text_.size() && text_[pos_] >= 'a' && text_[pos_] <= 'z')
				++pos_;
		}
		if (pos_ == start)
			Mismatch();
	}

  private:
	// SkipWhitespace moves past whitespace.
	void
	SkipWhitespace() {
		while (pos_ < text_.size() && IsJsonWhitespace(text_[pos_]))
			++pos_;
	}

	// Expect moves past whitespace and then the character c, which must be there.
	void
	Expect(char c) {
		SkipWhitespace();
		if (pos_ >= text_.size() || text_[pos_] != c)
			Mismatch();
		++pos_;
	}

	// SkipString moves past one string token, escapes included.
	void
	SkipString() {
		Expect('"');
		while (pos_ < text_.size() && text_[pos_] != '"')
			pos_ += text_[pos_] == '\\' ? 2 : 1;
		Expect('"');
	}

	// Record stores the text of item, from start to the current position.
	void
	Record(const cJSON *item, std::size_t start) {
		spans_.emplace_back(item, text_.substr(start, pos_ - start));
	}

	// Mismatch reports a text that is not the one the tree was parsed from.
	[[noreturn]] void
	Mismatch() const {
		throw std::logic_error("JsonSourceMap: the text does not match the parsed tree at byte " +
							   std::to_string(pos_));
	}

	std::string_view text_;
	std::vector<std::pair<const cJSON *, std::string_view>> &spans_;
	std::size_t pos_ = 0;
};

} // namespace

// ParseJsonDocument parses exactly one JSON value spanning text (surrounding whitespace allowed).
CJsonHandle
ParseJsonDocument(std::string_view text) {
	const char *end = nullptr;
	CJsonHandle root(cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false));
	if (!root)
		return nullptr;
	for (const char *rest = end; rest < text.data() + text.size(); ++rest)
		if (!IsJsonWhitespace(*rest))
			return nullptr;
	return root;
}

// JsonSourceMap walks the tree and the text together, then sorts the spans by item for lookup.
JsonSourceMap::JsonSourceMap(const cJSON *root, std::string_view text) {
	SourceWalker walker(text, spans_);
	walker.Walk(root);
	std::sort(spans_.begin(), spans_.end(),
			  [](const auto &a, const auto &b) { return std::less<const cJSON *>()(a.first, b.first); });
}

// TextOf finds item's span by binary search.
std::string_view
JsonSourceMap::TextOf(const cJSON *item) const {
	auto found = std::lower_bound(spans_.begin(), spans_.end(), item, [](const auto &span, const cJSON *key) {
		return std::less<const cJSON *>()(span.first, key);
	});
	if (found == spans_.end() || found->first != item)
		throw std::logic_error("JsonSourceMap: no source text recorded for this item");
	return found->second;
}

} // namespace mosta::sidecar
