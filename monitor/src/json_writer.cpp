/*
 * json_writer.cpp
 *     The monitor's JSON writing (see json_writer.hpp).
 */
#include "json_writer.hpp"

#include <charconv>
#include <cmath>

namespace mosta::monitor {

void
AppendJsonString(std::string &out, std::string_view text) {
	static constexpr char kHex[] = "0123456789abcdef";
	out.push_back('"');
	for (std::size_t i = 0; i < text.size(); ++i) {
		auto c = static_cast<unsigned char>(text[i]);
		switch (c) {
		case '"':
			out += "\\\"";
			continue;
		case '\\':
			out += "\\\\";
			continue;
		case '\n':
			out += "\\n";
			continue;
		case '\r':
			out += "\\r";
			continue;
		case '\t':
			out += "\\t";
			continue;
		default:
			break;
		}
		// U+2028 and U+2029 (E2 80 A8/A9) end a line in JavaScript
		bool line_separator = c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
							  (static_cast<unsigned char>(text[i + 2]) & 0xFE) == 0xA8;
		if (c < 0x20 || c == '<' || c == '>' || c == '&' || line_separator) {
			unsigned code = line_separator ? 0x2028u + (static_cast<unsigned char>(text[i + 2]) & 1u) : c;
			out += "\\u";
			out.push_back(kHex[(code >> 12) & 0xF]);
			out.push_back(kHex[(code >> 8) & 0xF]);
			out.push_back(kHex[(code >> 4) & 0xF]);
			out.push_back(kHex[code & 0xF]);
			if (line_separator)
				i += 2;
			continue;
		}
		out.push_back(static_cast<char>(c));
	}
	out.push_back('"');
}

std::string
JsonString(std::string_view text) {
	std::string out;
	AppendJsonString(out, text);
	return out;
}

void
AppendJsonNumber(std::string &out, double value) {
	if (!std::isfinite(value)) {
		out += "null";
		return;
	}
	char buffer[32];
	auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
	out.append(buffer, result.ptr);
}

void
AppendJsonElement(std::string &out, simdjson::dom::element element) {
	using simdjson::dom::element_type;
	switch (element.type()) {
	case element_type::OBJECT: {
		out.push_back('{');
		bool first = true;
		// a named copy: value_unsafe() of the temporary simdjson_result returns a reference into it, which a
		// range-for over it would use after the temporary is gone (a crash in Release builds)
		simdjson::dom::object object = element.get_object().value_unsafe();
		for (auto field : object) {
			if (!first)
				out.push_back(',');
			first = false;
			AppendJsonString(out, field.key);
			out.push_back(':');
			AppendJsonElement(out, field.value);
		}
		out.push_back('}');
		break;
	}
	case element_type::ARRAY: {
		out.push_back('[');
		bool first = true;
		simdjson::dom::array array = element.get_array().value_unsafe();
		for (auto item : array) {
			if (!first)
				out.push_back(',');
			first = false;
			AppendJsonElement(out, item);
		}
		out.push_back(']');
		break;
	}
	case element_type::STRING:
		AppendJsonString(out, element.get_string().value_unsafe());
		break;
	case element_type::INT64:
		out += std::to_string(element.get_int64().value_unsafe());
		break;
	case element_type::UINT64:
		out += std::to_string(element.get_uint64().value_unsafe());
		break;
	case element_type::DOUBLE:
		AppendJsonNumber(out, element.get_double().value_unsafe());
		break;
	case element_type::BOOL:
		out += element.get_bool().value_unsafe() ? "true" : "false";
		break;
	case element_type::NULL_VALUE:
		out += "null";
		break;
	}
}

} // namespace mosta::monitor
