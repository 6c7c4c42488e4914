/*
 * json_export_format.cpp
 *     The JSON export's lines and values (json_export_format.hpp): written by hand with JsonQuote, read with
 *     simdjson On-Demand (util/json_text.hpp).
 */
#include "io/json_export_format.hpp"

#include <array>
#include <cstdio>

#include "io/source.hpp"
#include "mosta/common/canonical_row.hpp"
#include "util/json_text.hpp"

namespace mosta::copy {

namespace {

namespace ondemand = simdjson::ondemand;

constexpr std::string_view kHeaderPrefix = "{\"format\":\"mostajs.export\",\"version\":";
constexpr std::string_view kHeaderSchemaKey = ",\"schema\":";
constexpr std::string_view kHeaderSuffix = ",\"tables\":[";
constexpr std::string_view kTablePrefix = "{\"schema\":";
constexpr std::string_view kTableSuffix = ",\"rows\":[";
constexpr std::string_view kTableEndPrefix = "],\"row_count\":";

bool
IsDigit(char c) noexcept {
	return c >= '0' && c <= '9';
}

// AppendArrayOrString appends an array's canonical text as it is when it can stand in a row line, else quoted.
void
AppendArrayOrString(std::string_view text, std::string &out) {
	bool bare = text.size() >= 2 && text.front() == '[' && text.back() == ']';
	for (std::size_t i = 0; bare && i < text.size(); ++i)
		bare = static_cast<unsigned char>(text[i]) >= 0x20;
	if (bare)
		out.append(text);
	else
		AppendJsonQuoted(out, text);
}

void
AppendValue(JsonValueKind kind, std::string_view text, std::string &out) {
	switch (kind) {
	case JsonValueKind::Number:
	case JsonValueKind::Float:
		// NaN and the infinities (and any text that is not a JSON number) as strings
		if (IsJsonNumber(text))
			out.append(text);
		else
			AppendJsonQuoted(out, text);
		return;
	case JsonValueKind::Boolean:
		if (text == "true" || text == "false")
			out.append(text);
		else
			AppendJsonQuoted(out, text);
		return;
	case JsonValueKind::Array:
		AppendArrayOrString(text, out);
		return;
	case JsonValueKind::String:
		AppendJsonQuoted(out, text);
		return;
	}
}

// RequirePrefix throws unless line starts with prefix.
void
Require(bool ok, const std::string &what) {
	if (!ok)
		throw CopyError(what);
}

} // namespace

bool
IsJsonNumber(std::string_view text) noexcept {
	std::size_t i = 0, n = text.size();
	if (i < n && text[i] == '-')
		++i;
	if (i >= n)
		return false;
	if (text[i] == '0') {
		++i;
	} else if (IsDigit(text[i])) {
		while (i < n && IsDigit(text[i]))
			++i;
	} else {
		return false;
	}
	if (i < n && text[i] == '.') {
		++i;
		if (i >= n || !IsDigit(text[i]))
			return false;
		while (i < n && IsDigit(text[i]))
			++i;
	}
	if (i < n && (text[i] == 'e' || text[i] == 'E')) {
		++i;
		if (i < n && (text[i] == '+' || text[i] == '-'))
			++i;
		if (i >= n || !IsDigit(text[i]))
			return false;
		while (i < n && IsDigit(text[i]))
			++i;
	}
	return i == n;
}

JsonValueKind
JsonValueKindOf(const ColumnDef &column) {
	PgColumnType type = column.Classified();
	if (type.dims > 0)
		return JsonValueKind::Array;
	switch (type.info->kind) {
	case PgTypeKind::Int2:
	case PgTypeKind::Int4:
	case PgTypeKind::Int8:
	case PgTypeKind::Oid:
		return JsonValueKind::Number;
	case PgTypeKind::Float4:
	case PgTypeKind::Float8:
		return JsonValueKind::Float;
	case PgTypeKind::Bool:
		return JsonValueKind::Boolean;
	default:
		return JsonValueKind::String;
	}
}

void
AppendJsonRow(const RowBatch &batch, std::size_t row, const std::vector<JsonValueKind> &kinds, std::string &out) {
	out += '[';
	std::size_t columns = batch.Columns();
	for (std::size_t column = 0; column < columns; ++column) {
		if (column > 0)
			out += ',';
		std::optional<std::string_view> field = batch.Field(row, column);
		if (!field)
			out.append("null", 4);
		else
			AppendValue(kinds[column], *field, out);
	}
	out += ']';
}

std::string
ParseJsonRow(std::string_view text, RowBatch &batch) {
	std::size_t columns = batch.Columns();
	std::size_t count = 0;
	try {
		sidecar::JsonParse parse(text);
		ondemand::array elements;
		if (parse.Document().get_array().get(elements))
			return "a row must be a JSON array";
		for (auto element_result : elements) {
			ondemand::value element = element_result.value();
			if (++count > columns)
				continue; // counted for the message
			switch (element.type().value()) {
			case ondemand::json_type::null:
				if (!element.is_null())
					return "value " + std::to_string(count) + " is not valid JSON";
				batch.AddNull();
				break;
			case ondemand::json_type::string: {
				std::string_view content = element.get_string().value();
				batch.AddField(content);
				break;
			}
			case ondemand::json_type::number: {
				std::string_view token = sidecar::RawJsonText(element);
				if (!IsJsonNumber(token))
					return "value " + std::to_string(count) + " is not a JSON number: " + std::string(token);
				batch.AddField(token);
				break;
			}
			case ondemand::json_type::boolean:
				batch.AddField(element.get_bool().value() ? "true" : "false");
				break;
			case ondemand::json_type::array:
				batch.AddField(sidecar::RawJsonText(element));
				break;
			case ondemand::json_type::object:
				return "value " + std::to_string(count) + " is a JSON object (a json value is written as a string)";
			}
		}
		parse.ExpectEnd();
	} catch (const simdjson::simdjson_error &e) {
		return "not a JSON array of values: " + sidecar::JsonErrorText(e);
	}
	if (count != columns)
		return "the row has " + std::to_string(count) + " value(s), the table has " + std::to_string(columns) +
			   " copied column(s)";
	if (columns == 0)
		batch.AddEmptyRow();
	return "";
}

std::string
DocumentHeaderLine(const DatabaseSchema &schema, const SnapshotInfo &snapshot) {
	std::string out(kHeaderPrefix);
	out += std::to_string(kExportVersion);
	out.append(kHeaderSchemaKey);
	out += SchemaToJson(schema, snapshot);
	out.append(kHeaderSuffix);
	out += '\n';
	return out;
}

std::vector<std::string>
CopiedColumnNames(const TableDef &table) {
	std::vector<std::string> names;
	for (std::size_t index : table.CopiedColumns())
		names.push_back(table.columns[index].name);
	return names;
}

std::string
TableHeaderLine(const TableDef &table) {
	std::string out(kTablePrefix);
	out += JsonQuote(table.schema);
	out += ",\"name\":";
	out += JsonQuote(table.name);
	out += ",\"columns\":[";
	std::vector<std::string> names = CopiedColumnNames(table);
	for (std::size_t i = 0; i < names.size(); ++i) {
		if (i > 0)
			out += ',';
		out += JsonQuote(names[i]);
	}
	out += ']';
	out.append(kTableSuffix);
	out += '\n';
	return out;
}

std::string
TableEndLine(std::uint64_t rows) {
	return std::string(kTableEndPrefix) + std::to_string(rows) + "}";
}

DatabaseSchema
ParseDocumentHeader(std::string_view line, SnapshotInfo *snapshot) {
	const std::string expected =
		"expected the header line {\"format\":\"mostajs.export\",\"version\":1,\"schema\":{...},"
		"\"tables\":[ on one line (docs/copy-formats.md)";
	if (line.substr(0, kHeaderPrefix.size()) != kHeaderPrefix) {
		if (!line.empty() && line.front() == '{' && line.size() < kHeaderPrefix.size())
			throw CopyError(expected +
							"; this looks like a JSON file reformatted by a pretty printer, which mosta-copy cannot "
							"stream: write it back compact, one item a line, as mosta-copy wrote it");
		throw CopyError("not a mosta-copy JSON export: " + expected);
	}
	std::size_t i = kHeaderPrefix.size();
	std::size_t digits = i;
	while (digits < line.size() && IsDigit(line[digits]))
		++digits;
	Require(digits > i && digits - i < 9, expected + ": the version is not a number");
	int version = std::stoi(std::string(line.substr(i, digits - i)));
	if (version != kExportVersion)
		throw CopyError("JSON export format version " + std::to_string(version) +
						" is not one this mosta-copy reads (" + std::to_string(kExportVersion) +
						"): read it with the mosta-copy release that wrote it");
	line.remove_prefix(digits);
	Require(line.substr(0, kHeaderSchemaKey.size()) == kHeaderSchemaKey,
			expected + ": \"schema\" must follow \"version\"");
	line.remove_prefix(kHeaderSchemaKey.size());
	Require(line.size() >= kHeaderSuffix.size() && line.substr(line.size() - kHeaderSuffix.size()) == kHeaderSuffix,
			expected + ": the line must end with ,\"tables\":[");
	line.remove_suffix(kHeaderSuffix.size());
	try {
		return SchemaFromJson(line, snapshot);
	} catch (const SchemaError &e) {
		throw CopyError(std::string("the schema document: ") + e.what());
	}
}

bool
IsTableHeader(std::string_view line) noexcept {
	return line.substr(0, kTablePrefix.size()) == kTablePrefix;
}

TableHeader
ParseTableHeader(std::string_view line) {
	const std::string expected = "expected a table's first line {\"schema\":\"s\",\"name\":\"t\",\"columns\":[...],"
								 "\"rows\":[";
	Require(IsTableHeader(line) && line.size() > kTableSuffix.size() &&
				line.substr(line.size() - kTableSuffix.size()) == kTableSuffix,
			expected);
	std::string object(line.substr(0, line.size() - kTableSuffix.size()));
	object += '}';
	TableHeader header;
	bool has_schema = false, has_name = false, has_columns = false;
	try {
		sidecar::JsonParse parse(object);
		ondemand::object fields = parse.Document().get_object().value();
		for (auto field : fields) {
			std::string_view key = field.unescaped_key().value();
			ondemand::value value = field.value().value();
			if (key == "schema") {
				header.schema = std::string(value.get_string().value());
				has_schema = true;
			} else if (key == "name") {
				header.name = std::string(value.get_string().value());
				has_name = true;
			} else if (key == "columns") {
				ondemand::array names = value.get_array().value();
				for (auto name : names)
					header.columns.emplace_back(name.get_string().value());
				has_columns = true;
			} else {
				throw CopyError(expected + ": unknown key \"" + std::string(key) + "\"");
			}
		}
		parse.ExpectEnd();
	} catch (const simdjson::simdjson_error &e) {
		throw CopyError(expected + ": " + sidecar::JsonErrorText(e));
	}
	Require(has_schema && has_name && has_columns, expected + ": \"schema\", \"name\" or \"columns\" is missing");
	return header;
}

std::uint64_t
ParseTableEnd(std::string_view line, bool *more) {
	const std::string expected = "expected a row [...] or the table's last line ],\"row_count\":N}";
	Require(line.substr(0, kTableEndPrefix.size()) == kTableEndPrefix, expected);
	line.remove_prefix(kTableEndPrefix.size());
	std::size_t digits = 0;
	while (digits < line.size() && IsDigit(line[digits]))
		++digits;
	Require(digits > 0 && digits < 20, expected);
	std::uint64_t rows = std::stoull(std::string(line.substr(0, digits)));
	line.remove_prefix(digits);
	if (line == "}")
		*more = false;
	else if (line == "},")
		*more = true;
	else
		throw CopyError(expected);
	return rows;
}

std::string
ExportFileName(const TableDef &table) {
	std::string name;
	// the schema's dots too, so that the first '.' ends the schema and two tables never share a name
	auto append = [&name](std::string_view part, bool escape_dots) {
		for (std::size_t i = 0; i < part.size(); ++i) {
			unsigned char c = static_cast<unsigned char>(part[i]);
			if (c < 0x20 || c == 0x7f || c == '/' || c == '%' || c == '\\' || (c == '.' && (i == 0 || escape_dots))) {
				char hex[4];
				std::snprintf(hex, sizeof hex, "%%%02X", c);
				name += hex;
			} else {
				name += static_cast<char>(c);
			}
		}
	};
	append(table.schema, true);
	name += '.';
	append(table.name, false);
	name += ".json";
	return name;
}

} // namespace mosta::copy
