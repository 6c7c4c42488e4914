/*
 * pg_row_text.cpp
 *     Value texts of the PostgreSQL sink (see pg_row_text.hpp).
 */
#include "sink/pg_row_text.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "mosta/common/canonical_row.hpp"

namespace mosta::sidecar {

namespace {

// PlanOf returns the conversion of a value of column declared (null: unknown type, taken as it is).
PgValuePlan
PlanOf(const RelationColumn *declared) {
	if (declared == nullptr || declared->classified.info == nullptr)
		return {};
	const std::string &type = declared->type;
	std::string_view base;
	if (declared->classified.dims == 0 && (type == "int2vector" || type == "oidvector"))
		base = type;
	else if (declared->classified.dims > 0 && type.rfind("box[", 0) == 0)
		base = "box";
	return PlanPgValue(declared->classified, base);
}

// ValueMessage names the column and shows the value that cannot be converted.
std::string
ValueMessage(const Column &column, std::string_view text, const char *problem) {
	constexpr std::size_t kShown = 200;
	std::string shown(text.substr(0, kShown));
	if (text.size() > kShown)
		shown += "...";
	return "column \"" + std::string(column.name) + "\"" +
		   (column.declared != nullptr ? " (" + column.declared->type + ")" : std::string()) + ": cannot convert \"" +
		   shown + "\" to PostgreSQL text: " + problem;
}

// AppendDouble appends number as PostgreSQL writes a float8 (shortest round-trip digits).
void
AppendDouble(std::string &out, double number) {
	out += FormatPgFloat8(number);
}

} // namespace

bool
PgValueWriter::AppendText(std::string &out, const Column &column) {
	const Value &value = column.value;
	switch (value.index()) {
	case 0:
		return false;
	case 1:
		out += std::get<bool>(value) ? 't' : 'f';
		return true;
	case 2: {
		char buffer[24];
		auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, std::get<std::int64_t>(value));
		static_cast<void>(error);
		out.append(buffer, end);
		return true;
	}
	case 3:
		AppendDouble(out, std::get<double>(value));
		return true;
	default:
		break;
	}
	std::string_view text = value.index() == 4 ? std::get<std::string_view>(value) : std::get<RawJson>(value).text;
	PgValuePlan plan = PlanOf(column.declared);
	// a version-1 json object or a json value that is not an array is its own text
	if (plan.conversion == PgValueConversion::AsIs ||
		(value.index() == 5 && plan.conversion != PgValueConversion::Array &&
		 plan.conversion != PgValueConversion::IntVector)) {
		out.append(text);
		return true;
	}
	try {
		AppendPgValue(out, text, plan, PgValueForm::PgText, scratch_);
	} catch (const PgValueError &error) {
		throw std::runtime_error(ValueMessage(column, text, error.what()));
	}
	return true;
}

void
PgValueWriter::AppendCopyField(std::string &out, const Column &column) {
	const Value &value = column.value;
	if (value.index() <= 3) { // null, bool, integer, float: nothing to escape
		if (!AppendText(out, column))
			out += "\\N";
		return;
	}
	field_.clear();
	AppendText(field_, column);
	AppendCopyEscaped(out, field_);
}

void
AppendCopyEscaped(std::string &out, std::string_view text) {
	std::size_t start = 0;
	for (std::size_t i = 0; i < text.size(); ++i) {
		char c = text[i];
		char escaped;
		switch (c) {
		case '\\':
			escaped = '\\';
			break;
		case '\t':
			escaped = 't';
			break;
		case '\n':
			escaped = 'n';
			break;
		case '\r':
			escaped = 'r';
			break;
		default:
			continue;
		}
		out.append(text.substr(start, i - start));
		out += '\\';
		out += escaped;
		start = i + 1;
	}
	out.append(text.substr(start));
}

void
AppendJsonValue(std::string &out, const Value &value) {
	switch (value.index()) {
	case 0:
		out += "null";
		return;
	case 1:
		out += std::get<bool>(value) ? "true" : "false";
		return;
	case 2:
		out += std::to_string(std::get<std::int64_t>(value));
		return;
	case 3:
		AppendDouble(out, std::get<double>(value));
		return;
	case 4:
		AppendJsonQuoted(out, std::get<std::string_view>(value));
		return;
	default:
		out.append(std::get<RawJson>(value).text);
		return;
	}
}

std::string
RowJson(const std::vector<Column> &row) {
	std::string json = "{";
	for (const Column &column : row) {
		if (json.size() > 1)
			json += ',';
		AppendJsonQuoted(json, column.name);
		json += ':';
		AppendJsonValue(json, column.value);
	}
	json += '}';
	return json;
}

std::string
KeyJson(const std::vector<Column> &row, const std::vector<std::string> &key) {
	std::string json = "{";
	for (const std::string &name : key) {
		auto found = std::find_if(row.begin(), row.end(), [&](const Column &column) { return column.name == name; });
		if (json.size() > 1)
			json += ',';
		AppendJsonQuoted(json, name);
		json += ':';
		if (found == row.end())
			json += "null";
		else
			AppendJsonValue(json, found->value);
	}
	json += '}';
	return json;
}

void
AppendPgTextAsJson(std::string &out, std::string_view text, std::string_view type) {
	PgColumnType classified = ClassifyPgType(type);
	std::string base = SplitPgTypeName(type).base;
	PgValuePlan plan = PlanPgValue(classified, base);
	PgValueScratch scratch;
	std::string canonical;
	AppendPgValue(canonical, text, plan, PgValueForm::Canonical, scratch);
	if (plan.conversion == PgValueConversion::Array || plan.conversion == PgValueConversion::IntVector) {
		out += canonical;
		return;
	}
	switch (classified.info->kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
	case PgTypeKind::Bool:
		out += canonical;
		return;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		if (canonical == "NaN" || canonical == "Infinity" || canonical == "-Infinity")
			AppendJsonQuoted(out, canonical);
		else
			out += canonical;
		return;
	default:
		AppendJsonQuoted(out, canonical);
		return;
	}
}

} // namespace mosta::sidecar
