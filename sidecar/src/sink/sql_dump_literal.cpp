/*
 * sql_dump_literal.cpp
 *     SqlLiteral and its conversions (see sql_dump_literal.hpp): a small JSON scanner for arrays, the BC year
 *     rewrite and the float text.
 */
#include "sink/sql_dump_literal.hpp"

#include <charconv>
#include <cstdint>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"

namespace mosta::sidecar {

namespace {

// kMaxArrayDepth bounds the nesting of JSON arrays (PostgreSQL's MAXDIM is 6; objects nest inside elements).
constexpr int kMaxArrayDepth = 64;

// JsonArrayScanner walks JSON text once, writing PostgreSQL array input.
class JsonArrayScanner {
  public:
	// JsonArrayScanner keeps the text to scan.
	explicit JsonArrayScanner(std::string_view text) : text_(text) {}

	// Convert scans the whole text as one array.
	std::string
	Convert() {
		SkipBlanks();
		Array(0);
		SkipBlanks();
		if (pos_ != text_.size())
			Fail("trailing text");
		return out_;
	}

  private:
	// Fail throws, naming the problem and the position.
	[[noreturn]] void
	Fail(std::string_view problem) const {
		throw std::invalid_argument("not a JSON array (" + std::string(problem) + " at byte " + std::to_string(pos_) +
									"): " + std::string(text_.substr(0, 200)));
	}

	// SkipBlanks skips JSON whitespace.
	void
	SkipBlanks() {
		while (pos_ < text_.size() &&
			   (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
			++pos_;
	}

	// Array converts "[...]" at pos_ to "{...}".
	void
	Array(int depth) {
		if (depth > kMaxArrayDepth || pos_ >= text_.size() || text_[pos_] != '[')
			Fail("expected [");
		++pos_;
		out_ += '{';
		SkipBlanks();
		if (pos_ < text_.size() && text_[pos_] == ']') {
			++pos_;
			out_ += '}';
			return;
		}
		for (bool first = true;; first = false) {
			if (!first)
				out_ += ',';
			SkipBlanks();
			Element(depth);
			SkipBlanks();
			if (pos_ >= text_.size())
				Fail("unterminated array");
			if (text_[pos_] == ']') {
				++pos_;
				out_ += '}';
				return;
			}
			if (text_[pos_] != ',')
				Fail("expected , or ]");
			++pos_;
		}
	}

	// Element converts one array element.
	void
	Element(int depth) {
		if (pos_ >= text_.size())
			Fail("missing element");
		char c = text_[pos_];
		if (c == '[') {
			Array(depth + 1);
		} else if (c == '"') {
			Quote(String());
		} else if (c == '{') {
			std::size_t start = pos_;
			SkipObject();
			Quote(text_.substr(start, pos_ - start));
		} else {
			std::size_t start = pos_;
			while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != ']' && text_[pos_] != ' ' &&
				   text_[pos_] != '\t' && text_[pos_] != '\n' && text_[pos_] != '\r')
				++pos_;
			std::string_view word = text_.substr(start, pos_ - start);
			if (word.empty())
				Fail("missing element");
			out_ += word == "null" ? std::string_view("NULL") : word;
		}
	}

	// Quote writes value double-quoted, escaping \ and ".
	void
	Quote(std::string_view value) {
		out_ += '"';
		for (char c : value) {
			if (c == '"' || c == '\\')
				out_ += '\\';
			out_ += c;
		}
		out_ += '"';
	}

	// Hex4 reads four hex digits at pos_.
	std::uint32_t
	Hex4() {
		if (pos_ + 4 > text_.size())
			Fail("short \\u escape");
		std::uint32_t code = 0;
		auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, code, 16);
		if (ec != std::errc() || end != text_.data() + pos_ + 4)
			Fail("bad \\u escape");
		pos_ += 4;
		return code;
	}

	// String reads a JSON string at pos_ and returns its UTF-8 value.
	std::string
	String() {
		std::string value;
		++pos_;
		while (true) {
			if (pos_ >= text_.size())
				Fail("unterminated string");
			char c = text_[pos_++];
			if (c == '"')
				return value;
			if (c != '\\') {
				value += c;
				continue;
			}
			if (pos_ >= text_.size())
				Fail("unterminated escape");
			char e = text_[pos_++];
			switch (e) {
			case 'b':
				value += '\b';
				break;
			case 'f':
				value += '\f';
				break;
			case 'n':
				value += '\n';
				break;
			case 'r':
				value += '\r';
				break;
			case 't':
				value += '\t';
				break;
			case 'u':
				AppendUtf8(value, CodePoint());
				break;
			default:
				value += e;
				break; // \" \\ \/
			}
		}
	}

	// CodePoint reads the rest of a \u escape (and a low surrogate after a high one).
	std::uint32_t
	CodePoint() {
		std::uint32_t code = Hex4();
		if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
			pos_ += 2;
			std::uint32_t low = Hex4();
			if (low < 0xDC00 || low >= 0xE000)
				Fail("bad surrogate pair");
			code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
		}
		if (code == 0)
			Fail("\\u0000 cannot be stored in text");
		return code;
	}

	// AppendUtf8 appends code as UTF-8.
	static void
	AppendUtf8(std::string &out, std::uint32_t code) {
		if (code < 0x80) {
			out += static_cast<char>(code);
		} else if (code < 0x800) {
			out += static_cast<char>(0xC0 | (code >> 6));
			out += static_cast<char>(0x80 | (code & 0x3F));
		} else if (code < 0x10000) {
			out += static_cast<char>(0xE0 | (code >> 12));
			out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
			out += static_cast<char>(0x80 | (code & 0x3F));
		} else {
			out += static_cast<char>(0xF0 | (code >> 18));
			out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
			out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
			out += static_cast<char>(0x80 | (code & 0x3F));
		}
	}

	// SkipObject moves pos_ past a balanced {...}, skipping strings.
	void
	SkipObject() {
		int depth = 0;
		while (pos_ < text_.size()) {
			char c = text_[pos_];
			if (c == '"') {
				String();
				continue;
			}
			++pos_;
			if (c == '{' || c == '[')
				++depth;
			else if ((c == '}' || c == ']') && --depth == 0)
				return;
		}
		Fail("unterminated object");
	}

	std::string_view text_;
	std::size_t pos_ = 0;
	std::string out_;
};

// IsDateOrTimestamp tells whether type is date or a timestamp type, as format_type prints them.
bool
IsDateOrTimestamp(std::string_view type) {
	return type == "date" || type.substr(0, 9) == "timestamp";
}

// FloatText returns the shortest text that reads back to number.
std::string
FloatText(double number) {
	char buffer[64];
	auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
	if (ec != std::errc())
		throw std::runtime_error("cannot format a float");
	return std::string(buffer, end);
}

} // namespace

// QuoteDumpLiteral quotes with QuoteLiteral, or as E'...' when text holds a line break.
std::string
QuoteDumpLiteral(std::string_view text) {
	if (text.find_first_of("\r\n") == std::string_view::npos)
		return QuoteLiteral(text);
	QuoteLiteral(text); // throws on NUL
	std::string quoted = "E'";
	for (char c : text) {
		if (c == '\\')
			quoted += "\\\\";
		else if (c == '\'')
			quoted += "''";
		else if (c == '\n')
			quoted += "\\n";
		else if (c == '\r')
			quoted += "\\r";
		else
			quoted += c;
	}
	return quoted + "'";
}

// DollarQuote picks $mosta$, $mosta1$, ... until the tag is not in body.
std::string
DollarQuote(std::string_view body) {
	std::string tag = "$mosta$";
	for (int n = 1; body.find(tag) != std::string_view::npos; ++n)
		tag = "$mosta" + std::to_string(n) + "$";
	return tag + " " + std::string(body) + " " + tag;
}

// JsonArrayToPgArray runs the scanner.
std::string
JsonArrayToPgArray(std::string_view json) {
	return JsonArrayScanner(json).Convert();
}

// AstronomicalToBc turns year Y <= 0 into year 1 - Y with " BC" appended.
std::string
AstronomicalToBc(std::string_view text) {
	bool negative = !text.empty() && text[0] == '-';
	std::size_t start = negative ? 1 : 0;
	std::size_t dash = text.find('-', start);
	if (dash == std::string_view::npos || dash - start < 4)
		return std::string(text);
	std::uint64_t year = 0;
	auto [end, ec] = std::from_chars(text.data() + start, text.data() + dash, year);
	if (ec != std::errc() || end != text.data() + dash || (!negative && year != 0))
		return std::string(text);
	std::string bc_year = std::to_string(year + 1);
	if (bc_year.size() < 4)
		bc_year.insert(0, 4 - bc_year.size(), '0');
	return bc_year + std::string(text.substr(dash)) + " BC";
}

// SqlLiteral quotes the value's text and casts it to type.
std::string
SqlLiteral(const Value &value, std::string_view type, std::string_view base_type) {
	if (IsNull(value))
		return "NULL";
	std::string_view form = base_type.empty() ? type : base_type;
	std::string text;
	if (const bool *flag = std::get_if<bool>(&value))
		text = *flag ? "true" : "false";
	else if (const std::int64_t *integer = std::get_if<std::int64_t>(&value))
		text = std::to_string(*integer);
	else if (const double *number = std::get_if<double>(&value))
		text = FloatText(*number);
	else if (const std::string_view *string = std::get_if<std::string_view>(&value))
		text = IsDateOrTimestamp(form) ? AstronomicalToBc(std::string(*string)) : std::string(*string);
	else {
		const std::string json(std::get<RawJson>(value).text);
		bool array = !form.empty() && form.back() == ']' && !json.empty() && json[0] == '[';
		text = array ? JsonArrayToPgArray(json) : json;
	}
	std::string literal = QuoteDumpLiteral(text);
	if (!type.empty())
		literal += "::" + std::string(type);
	return literal;
}

} // namespace mosta::sidecar
