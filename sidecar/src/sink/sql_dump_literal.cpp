/*
 * sql_dump_literal.cpp
 *     SqlLiteral and its conversions (see sql_dump_literal.hpp): JSON arrays walked with simdjson, the BC year
 *     rewrite and the float text.
 */
#include "sink/sql_dump_literal.hpp"

#include <charconv>
#include <cstdint>
#include <stdexcept>

#include "mosta/common/identifiers.hpp"
#include "mosta/common/pg_types.hpp"
#include "util/json_text.hpp"

namespace mosta::sidecar {

namespace {

// kMaxArrayDepth bounds the nesting of JSON arrays (PostgreSQL's MAXDIM is 6; objects nest inside elements).
constexpr int kMaxArrayDepth = 64;

// ArrayProblem is a JSON text that is not an array we can convert (the message names why).
struct ArrayProblem {
	std::string what;
};

// QuoteElement writes value double-quoted, escaping \ and ".
void
QuoteElement(std::string_view value, std::string &out) {
	out += '"';
	for (char c : value) {
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
}

// AppendArray converts one JSON array (walked with simdjson) to "{...}".
void
AppendArray(ondemand::array array, int depth, std::string &out) {
	if (depth > kMaxArrayDepth)
		throw ArrayProblem{"nested too deep"};
	out += '{';
	bool first = true;
	for (auto element_result : array) {
		ondemand::value element = element_result.value();
		if (!first)
			out += ',';
		first = false;
		switch (element.type().value()) {
		case ondemand::json_type::array:
			AppendArray(element.get_array().value(), depth + 1, out);
			break;
		case ondemand::json_type::object:
			QuoteElement(TrimJsonSpace(element.get_object().value().raw_json().value()), out);
			break;
		case ondemand::json_type::string: {
			std::string_view text = element.get_string().value();
			if (text.find('\0') != std::string_view::npos)
				throw ArrayProblem{"\\u0000 cannot be stored in text"};
			QuoteElement(text, out);
			break;
		}
		case ondemand::json_type::null:
			if (!element.is_null())
				throw ArrayProblem{"bad literal"};
			out += "NULL";
			break;
		case ondemand::json_type::boolean:
			out += element.get_bool().value() ? "true" : "false";
			break;
		case ondemand::json_type::number:
			out += TrimJsonSpace(element.raw_json_token()); // as written: numeric's digits are kept exactly
			break;
		}
	}
	out += '}';
}

// IsDateOrTimestamp tells whether type is date or a timestamp type (the type table's BcYears form).
bool
IsDateOrTimestamp(std::string_view type) {
	PgColumnType column = ClassifyPgType(type);
	return column.dims == 0 && column.info->sql == SqlLiteralForm::BcYears;
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

// JsonArrayToPgArray walks the array with simdjson.
std::string
JsonArrayToPgArray(std::string_view json) {
	auto fail = [&](std::string_view problem) {
		return std::invalid_argument("not a JSON array (" + std::string(problem) +
									 "): " + std::string(json.substr(0, 200)));
	};
	try {
		JsonParse parse(json);
		if (parse.Document().type().value() != ondemand::json_type::array)
			throw fail("expected [");
		std::string out;
		AppendArray(parse.Document().get_array().value(), 0, out);
		parse.ExpectEnd();
		return out;
	} catch (const ArrayProblem &problem) {
		throw fail(problem.what);
	} catch (const simdjson::simdjson_error &error) {
		throw fail(JsonErrorText(error));
	}
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
		text = IsDateOrTimestamp(form) ? AstronomicalToBc(*string) : std::string(*string);
	else {
		std::string_view json = std::get<RawJson>(value).text;
		bool array = !form.empty() && form.back() == ']' && !json.empty() && json[0] == '[';
		text = array ? JsonArrayToPgArray(json) : std::string(json);
	}
	std::string literal = QuoteDumpLiteral(text);
	if (!type.empty())
		literal += "::" + std::string(type);
	return literal;
}

} // namespace mosta::sidecar
