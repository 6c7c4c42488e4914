/*
 * ddl_message.cpp
 *     Reading mostajs.ddl content, rule coverage and column diffs (see ddl_message.hpp).
 */
#include "sink/ddl_message.hpp"

#include <algorithm>
#include <stdexcept>

#include "util/json_text.hpp"

namespace mosta::sidecar {

namespace {

// Fail throws the error of a malformed DDL message.
[[noreturn]] void
Fail(const std::string &problem, std::string_view text) {
	throw std::runtime_error("invalid mostajs.ddl message: " + problem + ": " +
							 std::string(text.substr(0, kDocumentExcerptBytes)));
}

// StringField returns a string member's value ("" when null or absent: field is nullopt); throws when it is not a
// string, or when it is required and absent.
std::string
StringField(std::optional<ondemand::value> field, const char *name, std::string_view text, bool required) {
	ondemand::json_type type = field ? field->type().value() : ondemand::json_type::null;
	if (type == ondemand::json_type::null) {
		if (required)
			Fail(std::string("no \"") + name + "\"", text);
		return {};
	}
	if (type != ondemand::json_type::string)
		Fail(std::string("\"") + name + "\" is not a string", text);
	return std::string(field->get_string().value());
}

// IsTrue tells whether a member is the JSON true.
bool
IsTrue(ondemand::value value) {
	return value.type().value() == ondemand::json_type::boolean && value.get_bool().value();
}

// IsNullText tells whether a member's text is absent or the JSON null.
bool
IsNullText(const std::optional<std::string_view> &text) {
	return !text || *text == "null";
}

// SplitQualifiedName splits a canonical name (quote_ident parts joined by '.') into its unquoted parts.
std::vector<std::string>
SplitQualifiedName(std::string_view name) {
	std::vector<std::string> parts;
	std::string part;
	std::size_t i = 0;
	while (i <= name.size()) {
		if (i < name.size() && name[i] == '"') {
			for (++i; i < name.size(); ++i) {
				if (name[i] == '"') {
					if (i + 1 < name.size() && name[i + 1] == '"') {
						part += '"';
						++i;
					} else {
						++i;
						break;
					}
				} else {
					part += name[i];
				}
			}
		}
		if (i >= name.size() || name[i] == '.') {
			parts.push_back(std::move(part));
			part.clear();
			++i;
			continue;
		}
		part += name[i++];
	}
	return parts;
}

// FillValue reads a column's "fill" (its JSON text, exact) through the change reader, so it becomes the Value a
// change document's value would (integers exact, json as sent): the value of the decoded message's one column.
std::shared_ptr<const DecodedMessage>
FillValue(std::string_view fill) {
	return ParseChange(R"({"op":"insert","schema":"s","table":"t","new":{"fill":)" + std::string(fill) + "}}")
		.Message();
}

// ReadColumn reads one element of "columns".
DdlColumn
ReadColumn(ondemand::value column, std::string_view text) {
	if (column.type().value() != ondemand::json_type::object)
		Fail("a column is not an object", text);
	DdlColumn parsed;
	bool have_name = false, have_type = false;
	std::optional<std::string_view> fill;
	// named: a range over value()'s result would refer into a destroyed temporary
	ondemand::object object_of_field = column.get_object().value();
	for (auto field : object_of_field) {
		std::string_view key = field.unescaped_key().value();
		ondemand::value value = field.value().value();
		if (key == "name") {
			parsed.name = StringField(value, "name", text, true);
			have_name = true;
		} else if (key == "type") {
			parsed.type = StringField(value, "type", text, true);
			have_type = true;
		} else if (key == "nullable") {
			parsed.nullable = !(value.type().value() == ondemand::json_type::boolean && !value.get_bool().value());
		} else if (key == "default") {
			if (value.type().value() == ondemand::json_type::string)
				parsed.default_expr = std::string(value.get_string().value());
		} else if (key == "fill") {
			fill = RawJsonText(value);
		}
	}
	if (!have_name)
		StringField(std::nullopt, "name", text, true);
	if (!have_type)
		StringField(std::nullopt, "type", text, true);
	if (parsed.name.empty() || parsed.type.empty())
		Fail("a column has an empty \"name\" or \"type\"", text);
	if (!IsNullText(fill)) {
		parsed.fill_storage = FillValue(*fill);
		parsed.fill = parsed.fill_storage->changes.at(0).new_row.at(0).value;
	}
	return parsed;
}

// ReadDdlContent reads the content object; text: the content's JSON text.
DdlMessage
ReadDdlContent(std::string_view text) {
	JsonParse parse(text);
	if (parse.Document().type().value() != ondemand::json_type::object)
		Fail("the content is not a JSON object", text);
	DdlMessage message;
	bool have_schema = false, have_table = false;
	std::optional<std::string_view> columns, key, types, partition_root;
	// named: a range over value()'s result would refer into a destroyed temporary
	ondemand::object object_of_field = parse.Document().get_object().value();
	for (auto field : object_of_field) {
		std::string_view name = field.unescaped_key().value();
		ondemand::value value = field.value().value();
		if (name == "command") {
			message.command = StringField(value, "command", text, false);
		} else if (name == "schema") {
			message.schema = StringField(value, "schema", text, true);
			have_schema = true;
		} else if (name == "table") {
			message.table = StringField(value, "table", text, true);
			have_table = true;
		} else if (name == "object_identity") {
			message.object_identity = StringField(value, "object_identity", text, false);
		} else if (name == "replica_identity") {
			message.replica_identity = StringField(value, "replica_identity", text, false);
		} else if (name == "dropped") {
			message.dropped = IsTrue(value);
		} else if (name == "rewritten") {
			message.rewritten = IsTrue(value);
		} else if (name == "columns") {
			columns = RawJsonText(value);
		} else if (name == "key") {
			key = RawJsonText(value);
		} else if (name == "types") {
			types = RawJsonText(value);
		} else if (name == "partition_root") {
			partition_root = RawJsonText(value);
		}
	}
	parse.ExpectEnd();
	if (!have_schema)
		StringField(std::nullopt, "schema", text, true);
	if (!have_table)
		StringField(std::nullopt, "table", text, true);
	if (message.schema.empty() || message.table.empty())
		Fail("empty \"schema\" or \"table\"", text);
	if (message.dropped) {
		message.rewritten = false;
		return message;
	}
	if (!IsNullText(partition_root)) {
		if (partition_root->front() != '{')
			Fail("\"partition_root\" is not an object", text);
		JsonParse root(*partition_root);
		TableName name;
		bool got_schema = false, got_table = false;
		// named: a range over value()'s result would refer into a destroyed temporary
		ondemand::object root_object = root.Document().get_object().value();
		for (auto field : root_object) {
			std::string_view member = field.unescaped_key().value();
			if (member == "schema") {
				name.schema = StringField(field.value().value(), "schema", text, true);
				got_schema = true;
			} else if (member == "table") {
				name.table = StringField(field.value().value(), "table", text, true);
				got_table = true;
			}
		}
		if (!got_schema)
			StringField(std::nullopt, "schema", text, true);
		if (!got_table)
			StringField(std::nullopt, "table", text, true);
		message.partition_root = std::move(name);
	}
	if (!columns || columns->front() != '[')
		Fail("no \"columns\" array", text);
	ForEachElement(*columns, [&](ondemand::value column) { message.columns.push_back(ReadColumn(column, text)); });
	if (!IsNullText(key)) {
		if (key->front() != '[')
			Fail("\"key\" is not an array", text);
		ForEachElement(*key, [&](ondemand::value name) {
			if (name.type().value() != ondemand::json_type::string)
				Fail("a \"key\" entry is not a string", text);
			message.key.emplace_back(name.get_string().value());
		});
	}
	message.types = ParseTypeDefinitions(types.value_or(std::string_view()), text);
	return message;
}

} // namespace

bool
DdlMessage::IsCreate() const noexcept {
	return command == "CREATE TABLE" || command == "CREATE TABLE AS" || command == "SELECT INTO";
}

std::optional<DdlMessage>
ParseDdlMessage(const Change &change) {
	if (change.op != Op::Message || change.prefix != kDdlPrefix)
		return std::nullopt;
	const RawJson *raw = std::get_if<RawJson>(&change.content);
	if (raw == nullptr)
		Fail("the content is not a JSON object", change.raw);
	std::string_view text = raw->text;
	try {
		return ReadDdlContent(text);
	} catch (const simdjson::simdjson_error &error) {
		Fail("the content is not valid JSON (" + JsonErrorText(error) + ")", text);
	}
}

bool
RuleCoversTable(const std::vector<std::string> &collections, std::string_view schema, std::string_view table) {
	for (const std::string &collection : collections) {
		if (collection == "*")
			return true;
		std::vector<std::string> parts = SplitQualifiedName(collection);
		if (parts.size() == 2 && parts[0] == schema && parts[1] == table)
			return true;
		if (parts.size() == 1 && schema == "public" && parts[0] == table)
			return true; // not canonical (no schema): the default search_path
	}
	return false;
}

ColumnDiff
DiffColumns(const std::vector<std::string> &held, const std::vector<DdlColumn> &shape) {
	ColumnDiff diff;
	auto in_shape = [&](const std::string &name) {
		return std::any_of(shape.begin(), shape.end(), [&](const DdlColumn &column) { return column.name == name; });
	};
	std::size_t gone_at = 0;
	for (std::size_t i = 0; i < held.size(); ++i)
		if (!in_shape(held[i])) {
			diff.dropped.push_back(held[i]);
			gone_at = i;
		}
	std::size_t new_at = 0;
	for (std::size_t i = 0; i < shape.size(); ++i)
		if (std::find(held.begin(), held.end(), shape[i].name) == held.end()) {
			diff.added.push_back(shape[i].name);
			new_at = i;
		}
	if (diff.dropped.size() == 1 && diff.added.size() == 1 && gone_at == new_at && held.size() == shape.size()) {
		diff.renamed.emplace_back(diff.dropped.front(), diff.added.front());
		diff.dropped.clear();
		diff.added.clear();
	}
	return diff;
}

const DdlColumn *
FindDdlColumn(const DdlMessage &message, std::string_view name) {
	auto found = std::find_if(message.columns.begin(), message.columns.end(),
							  [&](const DdlColumn &column) { return column.name == name; });
	return found == message.columns.end() ? nullptr : &*found;
}

bool
NeedsRecopy(const DdlMessage &message, const std::vector<std::string> &added) {
	if (!message.rewritten)
		return false;
	return std::any_of(added.begin(), added.end(), [&](const std::string &name) {
		const DdlColumn *column = FindDdlColumn(message, name);
		return column != nullptr && !column->fill;
	});
}

Change
ShapeAsChange(const DdlMessage &message) {
	std::vector<RelationColumn> columns;
	for (const DdlColumn &column : message.columns)
		columns.push_back(RelationColumn{column.name, column.type});
	Change change;
	change.op = Op::Insert;
	change.relation = std::make_shared<const RelationSchema>(0, message.schema, message.table, message.key,
															 ReplicaIdentity::Unknown, std::move(columns));
	change.has_new = true;
	for (const RelationColumn &column : change.relation->columns)
		change.new_row.push_back(Column{column.name, Value{}});
	return change;
}

} // namespace mosta::sidecar
