/*
 * verify_diff.cpp
 *     The per-column lines of verify's differing keys (see verify_diff.hpp).
 */
#include "app/verify_diff.hpp"

namespace mosta::sidecar {

namespace {

// IsContinuation tells whether byte c continues a UTF-8 sequence.
bool
IsContinuation(char c) {
	return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Escaped appends c to out, escaping what would break the line or the quotes.
void
AppendEscaped(std::string &out, char c) {
	static constexpr char kHex[] = "0123456789abcdef";
	if (c == '"' || c == '\\') {
		out += '\\';
		out += c;
	} else if (c == '\n') {
		out += "\\n";
	} else if (c == '\r') {
		out += "\\r";
	} else if (c == '\t') {
		out += "\\t";
	} else if (static_cast<unsigned char>(c) < 0x20) {
		out += "\\x";
		out += kHex[(c >> 4) & 0xf];
		out += kHex[c & 0xf];
	} else {
		out += c;
	}
}

} // namespace

std::string
ShownValue(const std::optional<std::string> &value) {
	if (!value)
		return "NULL";
	std::string out = "\"";
	std::size_t characters = 0;
	std::size_t i = 0;
	for (; i < value->size(); ++i) {
		char c = (*value)[i];
		if (!IsContinuation(c) && characters++ == kVerifyValueChars)
			break;
		AppendEscaped(out, c);
	}
	out += '"';
	if (i < value->size())
		out += "... (" + std::to_string(value->size()) + " bytes)";
	return out;
}

std::vector<std::string>
DifferingColumnLines(const std::vector<std::string> &names, const std::vector<std::optional<std::string>> &source,
					 const std::vector<std::optional<std::string>> &target) {
	std::vector<std::string> lines;
	for (std::size_t i = 0; i < names.size(); ++i) {
		const std::optional<std::string> no_value;
		const std::optional<std::string> &left = i < source.size() ? source[i] : no_value;
		const std::optional<std::string> &right = i < target.size() ? target[i] : no_value;
		if (left != right)
			lines.push_back("column " + names[i] + ": source " + ShownValue(left) + ", target " + ShownValue(right));
	}
	return lines;
}

} // namespace mosta::sidecar
