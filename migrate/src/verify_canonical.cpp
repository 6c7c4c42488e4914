/*
 * verify_canonical.cpp
 *     StoredCanonicalText (verify_canonical.hpp): numeric typmods and jsonb's key order, with a small JSON reader
 *     that keeps number tokens as written (jsonb keeps numeric's text: 1.50 stays 1.50).
 */
#include "verify_canonical.hpp"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "decimal_sum.hpp"
#include "mosta/common/canonical_row.hpp"

namespace mosta::migrate {

namespace {

// kMaxJsonDepth bounds the nesting the reader follows (jsonb's own limit is the stack; documents are shallow).
constexpr int kMaxJsonDepth = 200;

// JsonReader re-writes one JSON text in jsonb_out's form.
class JsonReader {
  public:
	explicit JsonReader(std::string_view text) : text_(text) {}

	// Read returns the normalised text of the whole input, nullopt when it is not one JSON value.
	std::optional<std::string>
	Read() {
		std::string out;
		if (!Value(out, 0))
			return std::nullopt;
		SkipSpace();
		if (at_ != text_.size())
			return std::nullopt;
		return out;
	}

  private:
	void
	SkipSpace() {
		while (at_ < text_.size() &&
			   (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
			++at_;
	}

	bool
	Value(std::string &out, int depth) {
		if (depth > kMaxJsonDepth)
			return false;
		SkipSpace();
		if (at_ >= text_.size())
			return false;
		char c = text_[at_];
		if (c == '{')
			return Object(out, depth);
		if (c == '[')
			return Array(out, depth);
		if (c == '"')
			return String(out);
		for (const char *word : {"true", "false", "null"}) {
			std::string_view w(word);
			if (text_.substr(at_, w.size()) == w) {
				out += w;
				at_ += w.size();
				return true;
			}
		}
		return Number(out);
	}

	bool
	Number(std::string &out) {
		std::size_t start = at_;
		while (at_ < text_.size() && (std::string_view("+-.eE0123456789").find(text_[at_]) != std::string_view::npos))
			++at_;
		if (at_ == start)
			return false;
		std::string_view token = text_.substr(start, at_ - start);
		if (token.find_first_of("eE") != std::string_view::npos) {
			out += token; // exponent forms are left as written (rare in documents; a difference shows)
			return true;
		}
		// numeric_in: "-0" is 0, "1." is 1, leading zeros go; the scale stays
		std::optional<std::string> plain = RescaleDecimal(token, FractionDigits(token));
		if (!plain)
			return false;
		out += *plain;
		return true;
	}

	static int
	FractionDigits(std::string_view token) {
		std::size_t point = token.find('.');
		return point == std::string_view::npos ? 0 : static_cast<int>(token.size() - point - 1);
	}

	bool
	String(std::string &out) {
		std::string content;
		if (!RawString(content))
			return false;
		AppendJsonQuoted(out, content);
		return true;
	}

	// RawString reads a string token into its unescaped content.
	bool
	RawString(std::string &content) {
		std::size_t start = at_++;
		while (at_ < text_.size() && text_[at_] != '"')
			at_ += text_[at_] == '\\' ? 2 : 1;
		if (at_ >= text_.size())
			return false;
		++at_;
		std::string token(text_.substr(start, at_ - start));
		std::size_t size = token.size();
		if (!JsonUnquoteInPlace(token.data(), &size))
			return false;
		content.assign(token.data(), size);
		return true;
	}

	bool
	Object(std::string &out, int depth) {
		++at_;
		std::vector<std::pair<std::string, std::string>> members;
		SkipSpace();
		if (at_ < text_.size() && text_[at_] == '}') {
			++at_;
			out += "{}";
			return true;
		}
		for (;;) {
			SkipSpace();
			std::string key;
			if (at_ >= text_.size() || text_[at_] != '"' || !RawString(key))
				return false;
			SkipSpace();
			if (at_ >= text_.size() || text_[at_++] != ':')
				return false;
			std::string value;
			if (!Value(value, depth + 1))
				return false;
			// a repeated key keeps its last value
			auto same = std::find_if(members.begin(), members.end(), [&](const auto &m) { return m.first == key; });
			if (same != members.end())
				same->second = std::move(value);
			else
				members.emplace_back(std::move(key), std::move(value));
			SkipSpace();
			if (at_ < text_.size() && text_[at_] == ',') {
				++at_;
				continue;
			}
			if (at_ < text_.size() && text_[at_] == '}') {
				++at_;
				break;
			}
			return false;
		}
		// jsonb's key order: shorter keys first, then bytewise
		std::sort(members.begin(), members.end(), [](const auto &a, const auto &b) {
			if (a.first.size() != b.first.size())
				return a.first.size() < b.first.size();
			return a.first < b.first;
		});
		out += '{';
		for (std::size_t i = 0; i < members.size(); ++i) {
			out += i == 0 ? "" : ", ";
			AppendJsonQuoted(out, members[i].first);
			out += ": ";
			out += members[i].second;
		}
		out += '}';
		return true;
	}

	bool
	Array(std::string &out, int depth) {
		++at_;
		out += '[';
		SkipSpace();
		if (at_ < text_.size() && text_[at_] == ']') {
			++at_;
			out += ']';
			return true;
		}
		for (bool first = true;; first = false) {
			out += first ? "" : ", ";
			if (!Value(out, depth + 1))
				return false;
			SkipSpace();
			if (at_ < text_.size() && text_[at_] == ',') {
				++at_;
				continue;
			}
			if (at_ < text_.size() && text_[at_] == ']') {
				++at_;
				out += ']';
				return true;
			}
			return false;
		}
	}

	std::string_view text_;
	std::size_t at_ = 0;
};

} // namespace

std::optional<int>
NumericScale(std::string_view type) {
	constexpr std::string_view prefix = "numeric(";
	if (type.substr(0, prefix.size()) != prefix || type.back() != ')')
		return std::nullopt;
	std::string_view inside = type.substr(prefix.size(), type.size() - prefix.size() - 1);
	std::size_t comma = inside.find(',');
	if (comma == std::string_view::npos)
		return 0;
	std::string digits(inside.substr(comma + 1));
	digits.erase(std::remove(digits.begin(), digits.end(), ' '), digits.end());
	if (digits.empty() || digits.find_first_not_of("-0123456789") != std::string::npos)
		return std::nullopt;
	return std::atoi(digits.c_str());
}

std::optional<std::string>
NormalizeJsonb(std::string_view json) {
	return JsonReader(json).Read();
}

std::optional<std::string>
StoredCanonicalText(std::string_view type, const std::optional<std::string> &value) {
	if (!value)
		return value;
	if (type == "jsonb") {
		std::optional<std::string> normal = NormalizeJsonb(*value);
		return normal ? normal : value;
	}
	if (std::optional<int> scale = NumericScale(type); scale && *scale >= 0) {
		std::optional<std::string> rescaled = RescaleDecimal(*value, *scale);
		return rescaled ? rescaled : value;
	}
	return value;
}

} // namespace mosta::migrate
