/*
 * pg_value_text.cpp
 *     The conversions between PgText and Canonical (see pg_value_text.hpp). Under kPgSessionSettingsSql
 *     PostgreSQL already writes most types as the output plugin does (docs/protocol.md section 8): integers, floats
 *     (the shortest round-trip digits with extra_float_digits >= 1, the plugin's float_to_shortest_decimal_buf),
 *     numeric, bytea (hex), json, jsonb, interval (iso_8601 is the plugin's EncodeInterval style), uuid, enums and
 *     every other type. What differs, and is rewritten here:
 *       - boolean: t / f against true / false;
 *       - timestamptz, timestamp, date: ISO "2024-05-01 08:30:00.5+00" against the plugin's XSD form
 *         "2024-05-01T08:30:00.5+00:00", and " BC" years against astronomical years ("0044-03-15 BC" is
 *         "-0043-03-15", "0001 BC" is "0000");
 *       - arrays: PostgreSQL's array literal ("{1,NULL,3}", "[0:2]={...}", quoted elements) against the plugin's
 *         JSON array, nested per dimension, lower bounds dropped, each element by its own type (numbers and
 *         booleans bare, NaN and infinities of floats as strings, everything else a JSON string of its
 *         canonical text, NULL as null); int2vector and oidvector ("1 2") are arrays for the plugin too ([1,2]).
 */
#include "sink/pg_value_text.hpp"

#include <cstring>
#include <vector>

#include "mosta/common/canonical_row.hpp"
#include "sink/sql_dump_literal.hpp"

namespace mosta::sidecar {

namespace {

// ScalarConversion returns how a scalar of kind is rewritten.
PgValueConversion
ScalarConversion(PgTypeKind kind) noexcept {
	switch (kind) {
	case PgTypeKind::Bool:
		return PgValueConversion::Bool;
	case PgTypeKind::Timestamptz:
		return PgValueConversion::Timestamptz;
	case PgTypeKind::Timestamp:
		return PgValueConversion::Timestamp;
	case PgTypeKind::Date:
		return PgValueConversion::Date;
	default:
		return PgValueConversion::AsIs;
	}
}

bool
IsDigit(char c) noexcept {
	return c >= '0' && c <= '9';
}

// AppendYear writes an astronomical year: "%04d" with a '-' before a negative one (the plugin's form).
void
AppendYear(std::string &out, long year) {
	if (year < 0) {
		out += '-';
		year = -year;
	}
	char digits[24];
	int length = 0;
	do {
		digits[length++] = static_cast<char>('0' + year % 10);
		year /= 10;
	} while (year > 0);
	for (int pad = length; pad < 4; ++pad)
		out += '0';
	while (length > 0)
		out += digits[--length];
}

// AppendDateTimeCanonical writes PostgreSQL's ISO text of a date or timestamp (DateStyle ISO, TimeZone UTC) in
// the plugin's form: 'T' between date and time, the zone as +HH:MM, " BC" years as astronomical ones.
void
AppendDateTimeCanonical(std::string &out, std::string_view text, PgValueConversion conversion) {
	if (text == "infinity" || text == "-infinity") {
		out.append(text);
		return;
	}
	bool bc = text.size() > 3 && text.substr(text.size() - 3) == " BC";
	if (bc)
		text.remove_suffix(3);
	std::size_t year_end = 0;
	while (year_end < text.size() && IsDigit(text[year_end]))
		++year_end;
	if (year_end < 4 || year_end >= text.size() || text[year_end] != '-')
		throw PgValueError("not an ISO date");
	if (bc) {
		long year = 0;
		for (std::size_t i = 0; i < year_end; ++i)
			year = year * 10 + (text[i] - '0');
		AppendYear(out, 1 - year);
	} else {
		out.append(text.substr(0, year_end));
	}
	std::string_view rest = text.substr(year_end); // "-05-01" or "-05-01 08:30:00.5+00"
	if (conversion == PgValueConversion::Date) {
		if (rest.size() != 6)
			throw PgValueError("not an ISO date");
		out.append(rest);
		return;
	}
	if (rest.size() < 15 || rest[6] != ' ')
		throw PgValueError("not an ISO timestamp");
	out.append(rest.substr(0, 6));
	out += 'T';
	rest.remove_prefix(7); // "08:30:00.5+00"
	if (conversion == PgValueConversion::Timestamp) {
		out.append(rest);
		return;
	}
	std::size_t sign = rest.find_first_of("+-", 8);
	if (sign == std::string_view::npos)
		throw PgValueError("not an ISO timestamp with a zone");
	out.append(rest);
	if (rest.size() - sign == 3) // "+00": EncodeTimezone's ISO form; the XSD form always has the minutes
		out.append(":00");
}

// AppendDateTimePg writes a canonical date or timestamp as PostgreSQL's ISO text, the inverse of
// AppendDateTimeCanonical.
void
AppendDateTimePg(std::string &out, std::string_view text, PgValueConversion conversion) {
	if (text == "infinity" || text == "-infinity") {
		out.append(text);
		return;
	}
	std::size_t start = out.size();
	std::size_t year_end = text[0] == '-' ? 1 : 0;
	while (year_end < text.size() && IsDigit(text[year_end]))
		++year_end;
	if (year_end < 4 || year_end >= text.size() || text[year_end] != '-')
		throw PgValueError("not an ISO 8601 date");
	std::string_view year = text.substr(0, year_end);
	bool bc = year[0] == '-' || year.find_first_not_of('0') == std::string_view::npos;
	out.append(text);
	if (conversion != PgValueConversion::Date) {
		if (text.size() < year_end + 15 || text[year_end + 6] != 'T')
			throw PgValueError("not an ISO 8601 timestamp");
		out[start + year_end + 6] = ' ';
		if (conversion == PgValueConversion::Timestamptz && out.size() - start >= 6 &&
			out.compare(out.size() - 3, 3, ":00") == 0 && (out[out.size() - 6] == '+' || out[out.size() - 6] == '-'))
			out.resize(out.size() - 3); // +HH:00 → +HH, as EncodeTimezone writes a whole-hour zone
	}
	if (bc) {
		std::string rewritten = AstronomicalToBc(std::string_view(out).substr(start));
		out.resize(start);
		out += rewritten;
	}
}

// AppendElementCanonical writes one non-NULL array element (its PostgreSQL text) as the plugin's JSON.
void
AppendElementCanonical(std::string &out, std::string_view text, PgTypeKind kind, std::string &scratch) {
	switch (kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
		out.append(text);
		return;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		if (text == "NaN" || text == "Infinity" || text == "-Infinity")
			AppendJsonQuoted(out, text);
		else
			out.append(text);
		return;
	case PgTypeKind::Bool:
		if (text == "t")
			out += "true";
		else if (text == "f")
			out += "false";
		else
			throw PgValueError("not a boolean element");
		return;
	case PgTypeKind::Timestamptz:
	case PgTypeKind::Timestamp:
	case PgTypeKind::Date:
		scratch.clear();
		AppendDateTimeCanonical(scratch, text, ScalarConversion(kind));
		AppendJsonQuoted(out, scratch);
		return;
	default:
		AppendJsonQuoted(out, text);
		return;
	}
}

// IsArraySpace tells whether c is a space for array_in (array_isspace).
bool
IsArraySpace(char c) noexcept {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// PgArrayReader walks PostgreSQL's array text (array_out's form) and writes the plugin's JSON array.
class PgArrayReader {
  public:
	PgArrayReader(std::string_view text, const PgValuePlan &plan, std::string &element, std::string &scratch)
		: text_(text), plan_(plan), element_(element), scratch_(scratch) {}

	void
	Write(std::string &out) {
		if (!text_.empty() && text_[0] == '[') { // "[0:2]={...}": the dimensions, dropped
			std::size_t equals = text_.find('=');
			if (equals == std::string_view::npos)
				throw PgValueError("array dimensions without '='");
			pos_ = equals + 1;
		}
		Level(out, 0);
		SkipSpace();
		if (pos_ != text_.size())
			throw PgValueError("text after the array");
	}

  private:
	static constexpr int kMaxDepth = 64;

	void
	SkipSpace() noexcept {
		while (pos_ < text_.size() && IsArraySpace(text_[pos_]))
			++pos_;
	}

	void
	Level(std::string &out, int depth) {
		SkipSpace();
		if (depth > kMaxDepth || pos_ >= text_.size() || text_[pos_] != '{')
			throw PgValueError("not an array ('{' expected)");
		++pos_;
		out += '[';
		SkipSpace();
		if (pos_ < text_.size() && text_[pos_] == '}') {
			++pos_;
			out += ']';
			return;
		}
		for (bool first = true;; first = false) {
			if (!first)
				out += ',';
			SkipSpace();
			if (pos_ < text_.size() && text_[pos_] == '{')
				Level(out, depth + 1);
			else
				Element(out);
			SkipSpace();
			if (pos_ >= text_.size())
				throw PgValueError("unterminated array");
			char c = text_[pos_++];
			if (c == '}')
				break;
			if (c != plan_.delimiter)
				throw PgValueError("bad array delimiter");
		}
		out += ']';
	}

	void
	Element(std::string &out) {
		if (pos_ < text_.size() && text_[pos_] == '"') {
			++pos_;
			element_.clear();
			for (;;) {
				if (pos_ >= text_.size())
					throw PgValueError("unterminated quoted array element");
				char c = text_[pos_++];
				if (c == '"')
					break;
				if (c == '\\') {
					if (pos_ >= text_.size())
						throw PgValueError("unterminated quoted array element");
					c = text_[pos_++];
				}
				element_ += c;
			}
			AppendElementCanonical(out, element_, plan_.element, scratch_);
			return;
		}
		std::size_t start = pos_;
		while (pos_ < text_.size() && text_[pos_] != plan_.delimiter && text_[pos_] != '}' && text_[pos_] != '"' &&
			   text_[pos_] != '\\' && text_[pos_] != '{')
			++pos_;
		std::string_view raw = text_.substr(start, pos_ - start);
		while (!raw.empty() && IsArraySpace(raw.back()))
			raw.remove_suffix(1);
		if (raw.empty())
			throw PgValueError("empty unquoted array element");
		if (raw.size() == 4 && (raw[0] | 0x20) == 'n' && (raw[1] | 0x20) == 'u' && (raw[2] | 0x20) == 'l' &&
			(raw[3] | 0x20) == 'l') {
			out += "null";
			return;
		}
		AppendElementCanonical(out, raw, plan_.element, scratch_);
	}

	std::string_view text_;
	const PgValuePlan &plan_;
	std::string &element_;
	std::string &scratch_;
	std::size_t pos_ = 0;
};

// AppendElementPg writes one array element's PostgreSQL text in array_out's form: quoted when empty, "NULL" in
// any case, or holding a quote, backslash, brace, the delimiter or a space; \ and " escaped.
void
AppendElementPg(std::string &out, std::string_view text, char delimiter) {
	bool quote = text.empty() || (text.size() == 4 && (text[0] | 0x20) == 'n' && (text[1] | 0x20) == 'u' &&
								  (text[2] | 0x20) == 'l' && (text[3] | 0x20) == 'l');
	for (std::size_t i = 0; !quote && i < text.size(); ++i) {
		char c = text[i];
		quote = c == '"' || c == '\\' || c == '{' || c == '}' || c == delimiter || IsArraySpace(c);
	}
	if (!quote) {
		out.append(text);
		return;
	}
	out += '"';
	for (char c : text) {
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
}

// JsonArrayReader walks the plugin's JSON array and writes PostgreSQL's array text (array_out's form).
class JsonArrayReader {
  public:
	JsonArrayReader(std::string_view text, const PgValuePlan &plan, std::string &element, std::string &scratch)
		: text_(text), plan_(plan), element_(element), scratch_(scratch) {}

	void
	Write(std::string &out) {
		Level(out, 0);
		SkipSpace();
		if (pos_ != text_.size())
			throw PgValueError("text after the JSON array");
	}

  private:
	static constexpr int kMaxDepth = 64;

	void
	SkipSpace() noexcept {
		while (pos_ < text_.size() &&
			   (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
			++pos_;
	}

	void
	Level(std::string &out, int depth) {
		SkipSpace();
		if (depth > kMaxDepth || pos_ >= text_.size() || text_[pos_] != '[')
			throw PgValueError("not a JSON array ('[' expected)");
		++pos_;
		out += '{';
		SkipSpace();
		if (pos_ < text_.size() && text_[pos_] == ']') {
			++pos_;
			out += '}';
			return;
		}
		for (bool first = true;; first = false) {
			if (!first)
				out += plan_.delimiter;
			SkipSpace();
			if (pos_ < text_.size() && text_[pos_] == '[')
				Level(out, depth + 1);
			else
				Element(out);
			SkipSpace();
			if (pos_ >= text_.size())
				throw PgValueError("unterminated JSON array");
			char c = text_[pos_++];
			if (c == ']')
				break;
			if (c != ',')
				throw PgValueError("',' or ']' expected in the JSON array");
		}
		out += '}';
	}

	void
	Element(std::string &out) {
		if (pos_ >= text_.size())
			throw PgValueError("unterminated JSON array");
		if (text_[pos_] == '"') {
			std::size_t start = pos_++;
			while (pos_ < text_.size() && text_[pos_] != '"')
				pos_ += text_[pos_] == '\\' ? 2 : 1;
			if (pos_ >= text_.size())
				throw PgValueError("unterminated JSON string");
			++pos_;
			element_.assign(text_.substr(start, pos_ - start));
			std::size_t size = element_.size();
			if (!JsonUnquoteInPlace(element_.data(), &size))
				throw PgValueError("bad JSON string");
			element_.resize(size);
			if (element_.find('\0') != std::string::npos)
				throw PgValueError("\\u0000 cannot be stored in PostgreSQL text");
			PgElement(out, element_);
			return;
		}
		std::size_t start = pos_;
		while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != ']' && text_[pos_] != ' ' &&
			   text_[pos_] != '\t' && text_[pos_] != '\n' && text_[pos_] != '\r')
			++pos_;
		std::string_view token = text_.substr(start, pos_ - start);
		if (token == "null")
			out += "NULL";
		else if (token == "true")
			out += plan_.element == PgTypeKind::Bool ? "t" : "true";
		else if (token == "false")
			out += plan_.element == PgTypeKind::Bool ? "f" : "false";
		else if (!token.empty() && (IsDigit(token[0]) || token[0] == '-'))
			out.append(token); // a number as written: PostgreSQL reads it as the element type
		else
			throw PgValueError("bad JSON array element");
	}

	// PgElement writes a string element: dates and timestamps back to PostgreSQL's text, then array_out's quoting.
	void
	PgElement(std::string &out, std::string_view text) {
		PgValueConversion conversion = ScalarConversion(plan_.element);
		if (conversion == PgValueConversion::Timestamptz || conversion == PgValueConversion::Timestamp ||
			conversion == PgValueConversion::Date) {
			scratch_.clear();
			AppendDateTimePg(scratch_, text, conversion);
			AppendElementPg(out, scratch_, plan_.delimiter);
			return;
		}
		AppendElementPg(out, text, plan_.delimiter);
	}

	std::string_view text_;
	const PgValuePlan &plan_;
	std::string &element_;
	std::string &scratch_;
	std::size_t pos_ = 0;
};

// AppendIntVectorCanonical writes int2vector's or oidvector's text ("1 2") as the plugin's JSON array ("[1,2]").
void
AppendIntVectorCanonical(std::string &out, std::string_view text) {
	out += '[';
	bool first = true;
	for (std::size_t pos = 0; pos < text.size();) {
		std::size_t end = text.find(' ', pos);
		if (end == std::string_view::npos)
			end = text.size();
		if (end > pos) {
			for (std::size_t i = pos; i < end; ++i)
				if (!IsDigit(text[i]) && !(i == pos && text[i] == '-'))
					throw PgValueError("not a list of integers");
			if (!first)
				out += ',';
			first = false;
			out.append(text.substr(pos, end - pos));
		}
		pos = end + 1;
	}
	out += ']';
}

// AppendIntVectorPg writes the plugin's JSON array of integers as int2vector's or oidvector's text.
void
AppendIntVectorPg(std::string &out, std::string_view json) {
	std::size_t open = json.find_first_not_of(" \t\r\n");
	std::size_t close = json.find_last_not_of(" \t\r\n");
	if (open == std::string_view::npos || json[open] != '[' || json[close] != ']')
		throw PgValueError("not a JSON array");
	bool first = true;
	for (std::size_t pos = open + 1; pos < close;) {
		std::size_t end = json.find(',', pos);
		if (end == std::string_view::npos || end > close)
			end = close;
		std::string_view element = json.substr(pos, end - pos);
		while (!element.empty() && (element.front() == ' ' || element.front() == '\n'))
			element.remove_prefix(1);
		while (!element.empty() && (element.back() == ' ' || element.back() == '\n'))
			element.remove_suffix(1);
		if (element.empty() || element.find_first_not_of("-0123456789") != std::string_view::npos)
			throw PgValueError("not a JSON array of integers");
		if (!first)
			out += ' ';
		first = false;
		out.append(element);
		pos = end + 1;
	}
}

} // namespace

PgValuePlan
PlanPgValue(PgColumnType type, std::string_view base_name) {
	PgValuePlan plan;
	if (type.dims == 0) {
		plan.conversion = ScalarConversion(type.info->kind);
		// int2vector and oidvector are arrays for the plugin (varlena with an array subscript handler): "1 2" is [1,2]
		if (type.info->kind == PgTypeKind::Text && (base_name == "int2vector" || base_name == "oidvector"))
			plan.conversion = PgValueConversion::IntVector;
		return plan;
	}
	plan.conversion = PgValueConversion::Array;
	plan.element = type.info->kind;
	if (base_name == "box")
		plan.delimiter = ';';
	return plan;
}

void
AppendPgValue(std::string &out, std::string_view value, const PgValuePlan &plan, PgValueForm to,
			  PgValueScratch &scratch) {
	switch (plan.conversion) {
	case PgValueConversion::AsIs:
		out.append(value);
		return;
	case PgValueConversion::Bool:
		if (to == PgValueForm::Canonical) {
			if (value == "t")
				out += "true";
			else if (value == "f")
				out += "false";
			else
				throw PgValueError("not a boolean (t or f)");
		} else {
			if (value == "true")
				out += 't';
			else if (value == "false")
				out += 'f';
			else
				throw PgValueError("not a boolean (true or false)");
		}
		return;
	case PgValueConversion::Timestamptz:
	case PgValueConversion::Timestamp:
	case PgValueConversion::Date:
		if (to == PgValueForm::Canonical)
			AppendDateTimeCanonical(out, value, plan.conversion);
		else
			AppendDateTimePg(out, value, plan.conversion);
		return;
	case PgValueConversion::Array:
		if (to == PgValueForm::Canonical)
			PgArrayReader(value, plan, scratch.element, scratch.other).Write(out);
		else
			JsonArrayReader(value, plan, scratch.element, scratch.other).Write(out);
		return;
	case PgValueConversion::IntVector:
		if (to == PgValueForm::Canonical)
			AppendIntVectorCanonical(out, value);
		else
			AppendIntVectorPg(out, value);
		return;
	}
}

} // namespace mosta::sidecar
