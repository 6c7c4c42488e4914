/*
 * ddl_message.cpp
 *     Reading mostajs.ddl content, rule coverage and column diffs (see ddl_message.hpp).
 */
#include "sink/ddl_message.hpp"

#include <algorithm>
#include <stdexcept>

#include "decode/json_source.hpp"

namespace mosta::sidecar {

namespace {

// Fail throws the error of a malformed DDL message.
[[noreturn]] void
Fail(const std::string &problem, const std::string &text) {
	throw std::runtime_error("invalid mostajs.ddl message: " + problem + ": " + text.substr(0, kDocumentExcerptBytes));
}

// StringField returns the string member name of object ("" when absent); throws when it is not a string.
std::string
StringField(const cJSON *object, const char *name, const std::string &text, bool required) {
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (item == nullptr || cJSON_IsNull(item)) {
		if (required)
			Fail(std::string("no \"") + name + "\"", text);
		return {};
	}
	if (!cJSON_IsString(item))
		Fail(std::string("\"") + name + "\" is not a string", text);
	return item->valuestring;
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

// FillValue reads a column's "fill" through the change reader, so it becomes the Value a change document's value
// would (integers exact, json as sent): the value of the decoded message's one column.
std::shared_ptr<const DecodedMessage>
FillValue(const cJSON *fill, const JsonSourceMap &source, const std::string &text) {
	std::string json;
	if (cJSON_IsNumber(fill) || cJSON_IsObject(fill) || cJSON_IsArray(fill)) {
		json = source.TextOf(fill);
	} else {
		char *printed = cJSON_PrintUnformatted(fill);
		if (printed == nullptr)
			Fail("a \"fill\" cannot be read", text);
		json = printed;
		cJSON_free(printed);
	}
	return ParseChange(R"({"op":"insert","schema":"s","table":"t","new":{"fill":)" + json + "}}").Message();
}

// ReadPartitionRoot reads "partition_root" ({"schema","table"}) when present.
std::optional<TableName>
ReadPartitionRoot(const cJSON *object, const std::string &text) {
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(object, "partition_root");
	if (root == nullptr || cJSON_IsNull(root))
		return std::nullopt;
	if (!cJSON_IsObject(root))
		Fail("\"partition_root\" is not an object", text);
	return TableName{StringField(root, "schema", text, true), StringField(root, "table", text, true)};
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
	const RawJson *json = std::get_if<RawJson>(&change.content);
	if (json == nullptr)
		Fail("the content is not a JSON object", std::string(change.raw));
	const struct {
		std::string text;
	} copy{std::string(json->text)}, *raw = &copy; // the cJSON helpers below take a std::string
	CJsonHandle root = ParseJsonDocument(raw->text);
	if (!root || !cJSON_IsObject(root.get()))
		Fail("the content is not a JSON object", raw->text);
	const cJSON *object = root.get();
	DdlMessage message;
	message.command = StringField(object, "command", raw->text, false);
	message.schema = StringField(object, "schema", raw->text, true);
	message.table = StringField(object, "table", raw->text, true);
	message.object_identity = StringField(object, "object_identity", raw->text, false);
	message.replica_identity = StringField(object, "replica_identity", raw->text, false);
	if (message.schema.empty() || message.table.empty())
		Fail("empty \"schema\" or \"table\"", raw->text);
	const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(object, "dropped");
	message.dropped = dropped != nullptr && cJSON_IsTrue(dropped);
	if (message.dropped)
		return message;
	message.rewritten = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(object, "rewritten"));
	message.partition_root = ReadPartitionRoot(object, raw->text);
	JsonSourceMap source(root.get(), raw->text);
	const cJSON *columns = cJSON_GetObjectItemCaseSensitive(object, "columns");
	if (!cJSON_IsArray(columns))
		Fail("no \"columns\" array", raw->text);
	const cJSON *column = nullptr;
	cJSON_ArrayForEach(column, columns) {
		if (!cJSON_IsObject(column))
			Fail("a column is not an object", raw->text);
		DdlColumn parsed;
		parsed.name = StringField(column, "name", raw->text, true);
		parsed.type = StringField(column, "type", raw->text, true);
		if (parsed.name.empty() || parsed.type.empty())
			Fail("a column has an empty \"name\" or \"type\"", raw->text);
		const cJSON *nullable = cJSON_GetObjectItemCaseSensitive(column, "nullable");
		parsed.nullable = nullable == nullptr || !cJSON_IsFalse(nullable);
		if (const cJSON *def = cJSON_GetObjectItemCaseSensitive(column, "default"); cJSON_IsString(def))
			parsed.default_expr = def->valuestring;
		if (const cJSON *fill = cJSON_GetObjectItemCaseSensitive(column, "fill");
			fill != nullptr && !cJSON_IsNull(fill)) {
			parsed.fill_storage = FillValue(fill, source, raw->text);
			parsed.fill = parsed.fill_storage->changes.at(0).new_row.at(0).value;
		}
		message.columns.push_back(std::move(parsed));
	}
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(object, "key");
	if (key != nullptr && !cJSON_IsNull(key)) {
		if (!cJSON_IsArray(key))
			Fail("\"key\" is not an array", raw->text);
		const cJSON *name = nullptr;
		cJSON_ArrayForEach(name, key) {
			if (!cJSON_IsString(name))
				Fail("a \"key\" entry is not a string", raw->text);
			message.key.emplace_back(name->valuestring);
		}
	}
	message.types = ParseTypeDefinitions(cJSON_GetObjectItemCaseSensitive(object, "types"), raw->text);
	return message;
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
