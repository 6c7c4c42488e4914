/*
 * value_text.cpp
 *     The conversions between PgText and Canonical (see value_text.hpp). Under kSessionSettingsSql PostgreSQL
 *     already writes most types as the output plugin does (docs/protocol.md section 8): integers, floats (the
 *     shortest round-trip digits with extra_float_digits >= 1, the plugin's float_to_shortest_decimal_buf),
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
 *
 *     ConvertBatch classifies each column once and writes straight into the new batch's buffer: a value that
 *     needs no rewrite is one append.
 */
#include "model/value_text.hpp"

#include <cstring>
#include <vector>

#include "io/source.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/pg_types.hpp"
#include "sink/sql_dump_literal.hpp"

namespace mosta::copy {

namespace {

// How a column's values are rewritten.
enum class Conversion { AsIs, Bool, Timestamptz, Timestamp, Date, Array, IntVector };

// A column's conversion, classified once.
struct ColumnPlan {
	Conversion conversion = Conversion::AsIs;
	PgTypeKind element = PgTypeKind::Text; // an array's element kind
	char delimiter = ',';				   // an array's element delimiter (';' for box, ',' for every other type)
};

// ValueError is a value that cannot be converted; ConvertOne adds the column and the value.
struct ValueError {
	const char *problem;
};

// ScalarConversion returns how a scalar of kind is rewritten.
Conversion
ScalarConversion(PgTypeKind kind) noexcept {
	switch (kind) {
	case PgTypeKind::Bool:
		return Conversion::Bool;
	case PgTypeKind::Timestamptz:
		return Conversion::Timestamptz;
	case PgTypeKind::Timestamp:
		return Conversion::Timestamp;
	case PgTypeKind::Date:
		return Conversion::Date;
	default:
		return Conversion::AsIs;
	}
}

// PlanOf classifies column.
ColumnPlan
PlanOf(const ColumnDef &column) {
	PgColumnType type = column.Classified();
	ColumnPlan plan;
	if (type.dims == 0) {
		plan.conversion = ScalarConversion(type.info->kind);
		// int2vector and oidvector are arrays for the plugin (varlena with an array subscript handler): "1 2" is [1,2]
		if (type.info->kind == PgTypeKind::Text) {
			std::string base = SplitPgTypeName(column.base_type.empty() ? column.type : column.base_type).base;
			if (base == "int2vector" || base == "oidvector")
				plan.conversion = Conversion::IntVector;
		}
		return plan;
	}
	plan.conversion = Conversion::Array;
	plan.element = type.info->kind;
	if (SplitPgTypeName(column.base_type.empty() ? column.type : column.base_type).base == "box")
		plan.delimiter = ';';
	return plan;
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
AppendDateTimeCanonical(std::string &out, std::string_view text, Conversion conversion) {
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
		throw ValueError{"not an ISO date"};
	if (bc) {
		long year = 0;
		for (std::size_t i = 0; i < year_end; ++i)
			year = year * 10 + (text[i] - '0');
		AppendYear(out, 1 - year);
	} else {
		out.append(text.substr(0, year_end));
	}
	std::string_view rest = text.substr(year_end); // "-05-01" or "-05-01 08:30:00.5+00"
	if (conversion == Conversion::Date) {
		if (rest.size() != 6)
			throw ValueError{"not an ISO date"};
		out.append(rest);
		return;
	}
	if (rest.size() < 15 || rest[6] != ' ')
		throw ValueError{"not an ISO timestamp"};
	out.append(rest.substr(0, 6));
	out += 'T';
	rest.remove_prefix(7); // "08:30:00.5+00"
	if (conversion == Conversion::Timestamp) {
		out.append(rest);
		return;
	}
	std::size_t sign = rest.find_first_of("+-", 8);
	if (sign == std::string_view::npos)
		throw ValueError{"not an ISO timestamp with a zone"};
	out.append(rest);
	if (rest.size() - sign == 3) // "+00": EncodeTimezone's ISO form; the XSD form always has the minutes
		out.append(":00");
}

// AppendDateTimePg writes a canonical date or timestamp as PostgreSQL's ISO text, the inverse of
// AppendDateTimeCanonical.
void
AppendDateTimePg(std::string &out, std::string_view text, Conversion conversion) {
	if (text == "infinity" || text == "-infinity") {
		out.append(text);
		return;
	}
	std::size_t start = out.size();
	std::size_t year_end = text[0] == '-' ? 1 : 0;
	while (year_end < text.size() && IsDigit(text[year_end]))
		++year_end;
	if (year_end < 4 || year_end >= text.size() || text[year_end] != '-')
		throw ValueError{"not an ISO 8601 date"};
	std::string_view year = text.substr(0, year_end);
	bool bc = year[0] == '-' || year.find_first_not_of('0') == std::string_view::npos;
	out.append(text);
	if (conversion != Conversion::Date) {
		if (text.size() < year_end + 15 || text[year_end + 6] != 'T')
			throw ValueError{"not an ISO 8601 timestamp"};
		out[start + year_end + 6] = ' ';
		if (conversion == Conversion::Timestamptz && out.size() - start >= 6 &&
			out.compare(out.size() - 3, 3, ":00") == 0 && (out[out.size() - 6] == '+' || out[out.size() - 6] == '-'))
			out.resize(out.size() - 3); // +HH:00 → +HH, as EncodeTimezone writes a whole-hour zone
	}
	if (bc) {
		std::string rewritten = sidecar::AstronomicalToBc(std::string_view(out).substr(start));
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
			throw ValueError{"not a boolean element"};
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
	PgArrayReader(std::string_view text, const ColumnPlan &plan, std::string &element, std::string &scratch)
		: text_(text), plan_(plan), element_(element), scratch_(scratch) {}

	void
	Write(std::string &out) {
		if (!text_.empty() && text_[0] == '[') { // "[0:2]={...}": the dimensions, dropped
			std::size_t equals = text_.find('=');
			if (equals == std::string_view::npos)
				throw ValueError{"array dimensions without '='"};
			pos_ = equals + 1;
		}
		Level(out, 0);
		SkipSpace();
		if (pos_ != text_.size())
			throw ValueError{"text after the array"};
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
			throw ValueError{"not an array ('{' expected)"};
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
				throw ValueError{"unterminated array"};
			char c = text_[pos_++];
			if (c == '}')
				break;
			if (c != plan_.delimiter)
				throw ValueError{"bad array delimiter"};
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
					throw ValueError{"unterminated quoted array element"};
				char c = text_[pos_++];
				if (c == '"')
					break;
				if (c == '\\') {
					if (pos_ >= text_.size())
						throw ValueError{"unterminated quoted array element"};
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
			throw ValueError{"empty unquoted array element"};
		if (raw.size() == 4 && (raw[0] | 0x20) == 'n' && (raw[1] | 0x20) == 'u' && (raw[2] | 0x20) == 'l' &&
			(raw[3] | 0x20) == 'l') {
			out += "null";
			return;
		}
		AppendElementCanonical(out, raw, plan_.element, scratch_);
	}

	std::string_view text_;
	const ColumnPlan &plan_;
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
	JsonArrayReader(std::string_view text, const ColumnPlan &plan, std::string &element, std::string &scratch)
		: text_(text), plan_(plan), element_(element), scratch_(scratch) {}

	void
	Write(std::string &out) {
		Level(out, 0);
		SkipSpace();
		if (pos_ != text_.size())
			throw ValueError{"text after the JSON array"};
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
			throw ValueError{"not a JSON array ('[' expected)"};
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
				throw ValueError{"unterminated JSON array"};
			char c = text_[pos_++];
			if (c == ']')
				break;
			if (c != ',')
				throw ValueError{"',' or ']' expected in the JSON array"};
		}
		out += '}';
	}

	void
	Element(std::string &out) {
		if (pos_ >= text_.size())
			throw ValueError{"unterminated JSON array"};
		if (text_[pos_] == '"') {
			std::size_t start = pos_++;
			while (pos_ < text_.size() && text_[pos_] != '"')
				pos_ += text_[pos_] == '\\' ? 2 : 1;
			if (pos_ >= text_.size())
				throw ValueError{"unterminated JSON string"};
			++pos_;
			element_.assign(text_.substr(start, pos_ - start));
			std::size_t size = element_.size();
			if (!JsonUnquoteInPlace(element_.data(), &size))
				throw ValueError{"bad JSON string"};
			element_.resize(size);
			if (element_.find('\0') != std::string::npos)
				throw ValueError{"\\u0000 cannot be stored in PostgreSQL text"};
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
			throw ValueError{"bad JSON array element"};
	}

	// PgElement writes a string element: dates and timestamps back to PostgreSQL's text, then array_out's quoting.
	void
	PgElement(std::string &out, std::string_view text) {
		Conversion conversion = ScalarConversion(plan_.element);
		if (conversion == Conversion::Timestamptz || conversion == Conversion::Timestamp ||
			conversion == Conversion::Date) {
			scratch_.clear();
			AppendDateTimePg(scratch_, text, conversion);
			AppendElementPg(out, scratch_, plan_.delimiter);
			return;
		}
		AppendElementPg(out, text, plan_.delimiter);
	}

	std::string_view text_;
	const ColumnPlan &plan_;
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
					throw ValueError{"not a list of integers"};
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
		throw ValueError{"not a JSON array"};
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
			throw ValueError{"not a JSON array of integers"};
		if (!first)
			out += ' ';
		first = false;
		out.append(element);
		pos = end + 1;
	}
}

// Scratch buffers reused across the values of one conversion.
struct Scratch {
	std::string element;
	std::string other;
};

// AppendConverted writes value, in form from, converted to the other form.
void
AppendConverted(std::string &out, std::string_view value, const ColumnPlan &plan, ValueForm to, Scratch &scratch) {
	switch (plan.conversion) {
	case Conversion::AsIs:
		out.append(value);
		return;
	case Conversion::Bool:
		if (to == ValueForm::Canonical) {
			if (value == "t")
				out += "true";
			else if (value == "f")
				out += "false";
			else
				throw ValueError{"not a boolean (t or f)"};
		} else {
			if (value == "true")
				out += 't';
			else if (value == "false")
				out += 'f';
			else
				throw ValueError{"not a boolean (true or false)"};
		}
		return;
	case Conversion::Timestamptz:
	case Conversion::Timestamp:
	case Conversion::Date:
		if (to == ValueForm::Canonical)
			AppendDateTimeCanonical(out, value, plan.conversion);
		else
			AppendDateTimePg(out, value, plan.conversion);
		return;
	case Conversion::Array:
		if (to == ValueForm::Canonical)
			PgArrayReader(value, plan, scratch.element, scratch.other).Write(out);
		else
			JsonArrayReader(value, plan, scratch.element, scratch.other).Write(out);
		return;
	case Conversion::IntVector:
		if (to == ValueForm::Canonical)
			AppendIntVectorCanonical(out, value);
		else
			AppendIntVectorPg(out, value);
		return;
	}
}

// ValueMessage returns the message of a value of column that cannot be converted.
std::string
ValueMessage(const ColumnDef &column, std::string_view value, ValueForm to, const char *problem) {
	constexpr std::size_t kShown = 200;
	std::string shown(value.substr(0, kShown));
	if (value.size() > kShown)
		shown += "...";
	return "column \"" + column.name + "\" (" + column.type + "): cannot convert \"" + shown + "\" to " +
		   (to == ValueForm::Canonical ? "canonical text" : "PostgreSQL text") + ": " + problem;
}

// Convert converts one value, throwing CopyError naming the column.
std::string
Convert(const ColumnDef &column, std::string_view value, ValueForm to) {
	ColumnPlan plan = PlanOf(column);
	Scratch scratch;
	std::string out;
	out.reserve(value.size() + 8);
	try {
		AppendConverted(out, value, plan, to, scratch);
	} catch (const ValueError &error) {
		throw CopyError(ValueMessage(column, value, to, error.problem));
	}
	return out;
}

} // namespace

std::string
PgTextToCanonical(const ColumnDef &column, std::string_view text) {
	return Convert(column, text, ValueForm::Canonical);
}

std::string
CanonicalToPgText(const ColumnDef &column, std::string_view canonical) {
	return Convert(column, canonical, ValueForm::PgText);
}

RowBatch
ConvertBatch(const RowBatch &batch, const TableDef &table, ValueForm to) {
	std::vector<std::size_t> copied = table.CopiedColumns();
	if (copied.size() != batch.Columns())
		throw CopyError("table " + table.QualifiedName() + ": a batch of " + std::to_string(batch.Columns()) +
						" columns, but the table has " + std::to_string(copied.size()) + " copied columns");
	RowBatch out(batch.Columns(), to);
	std::size_t rows = batch.Rows();
	if (batch.Columns() == 0) {
		for (std::size_t r = 0; r < rows; ++r)
			out.AddEmptyRow();
		return out;
	}
	// StartField hands out the buffer: reserve once (a little more than the source's bytes) without adding a field.
	out.StartField().reserve(batch.Bytes() + batch.Bytes() / 8 + 64);
	if (batch.Form() == to) {
		for (std::size_t r = 0; r < rows; ++r)
			for (std::size_t c = 0; c < batch.Columns(); ++c) {
				auto field = batch.Field(r, c);
				field ? out.AddField(*field) : out.AddNull();
			}
		return out;
	}
	std::vector<ColumnPlan> plans;
	plans.reserve(copied.size());
	for (std::size_t index : copied)
		plans.push_back(PlanOf(table.columns[index]));
	Scratch scratch;
	for (std::size_t r = 0; r < rows; ++r)
		for (std::size_t c = 0; c < plans.size(); ++c) {
			auto field = batch.Field(r, c);
			if (!field) {
				out.AddNull();
				continue;
			}
			if (plans[c].conversion == Conversion::AsIs) {
				out.AddField(*field);
				continue;
			}
			std::string &bytes = out.StartField();
			try {
				AppendConverted(bytes, *field, plans[c], to, scratch);
			} catch (const ValueError &error) {
				throw CopyError("table " + table.QualifiedName() + ", row " + std::to_string(r + 1) +
								" of the batch: " + ValueMessage(table.columns[copied[c]], *field, to, error.problem));
			}
			out.FinishField();
		}
	return out;
}

} // namespace mosta::copy
