/*
 * type_definition.cpp
 *     Reading type definitions (see type_definition.hpp) with cJSON.
 */
#include "sink/type_definition.hpp"

#include <memory>
#include <stdexcept>

#include "decode/json_source.hpp"

namespace mosta::sidecar {

namespace {

// Fail throws the error of a malformed type definition.
[[noreturn]] void
Fail(const std::string &problem, std::string_view text) {
	throw std::runtime_error("invalid type definition in a DDL message: " + problem + ": " +
							 std::string(text.substr(0, kDocumentExcerptBytes)));
}

// Text returns the string member name of object; nullopt when absent or null; throws when not a string.
std::optional<std::string>
Text(const cJSON *object, const char *name, std::string_view source) {
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (item == nullptr || cJSON_IsNull(item))
		return std::nullopt;
	if (!cJSON_IsString(item))
		Fail(std::string("\"") + name + "\" is not a string", source);
	return std::string(item->valuestring);
}

// Required returns the string member name of object, throwing when it is absent or empty.
std::string
Required(const cJSON *object, const char *name, std::string_view source) {
	std::optional<std::string> text = Text(object, name, source);
	if (!text || text->empty())
		Fail(std::string("no \"") + name + "\"", source);
	return *text;
}

// Flag returns the boolean member name of object (fallback when absent).
bool
Flag(const cJSON *object, const char *name, bool fallback) {
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	return item == nullptr || !cJSON_IsBool(item) ? fallback : cJSON_IsTrue(item);
}

// Array returns the array member name of object (null when absent); throws when it is not an array.
const cJSON *
Array(const cJSON *object, const char *name, std::string_view source) {
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);
	if (item == nullptr || cJSON_IsNull(item))
		return nullptr;
	if (!cJSON_IsArray(item))
		Fail(std::string("\"") + name + "\" is not an array", source);
	return item;
}

// Printed returns item as one line of JSON.
std::string
Printed(const cJSON *item) {
	std::unique_ptr<char, decltype(&cJSON_free)> text(cJSON_PrintUnformatted(item), &cJSON_free);
	if (!text)
		throw std::bad_alloc();
	return text.get();
}

// FromItem reads one definition object.
TypeDefinition
FromItem(const cJSON *object, std::string_view source) {
	if (!cJSON_IsObject(object))
		Fail("a definition is not an object", source);
	TypeDefinition type;
	const cJSON *oid = cJSON_GetObjectItemCaseSensitive(object, "oid");
	if (!cJSON_IsNumber(oid) || oid->valuedouble < 1 || oid->valuedouble > 4294967295.0)
		Fail("no \"oid\"", source);
	type.oid = static_cast<std::uint32_t>(oid->valuedouble);
	type.type = Required(object, "type", source);
	type.schema = Required(object, "schema", source);
	type.name = Required(object, "name", source);
	type.kind = Required(object, "kind", source);
	const cJSON *item = nullptr;
	if (const cJSON *labels = Array(object, "labels", source))
		cJSON_ArrayForEach(item, labels) {
			if (!cJSON_IsString(item))
				Fail("a label is not a string", source);
			type.labels.emplace_back(item->valuestring);
		}
	if (const cJSON *attributes = Array(object, "attributes", source))
		cJSON_ArrayForEach(item, attributes) {
			if (!cJSON_IsObject(item))
				Fail("an attribute is not an object", source);
			type.attributes.push_back(TypeAttribute{Required(item, "name", source), Required(item, "type", source),
													Text(item, "collation", source)});
		}
	if (const cJSON *constraints = Array(object, "constraints", source))
		cJSON_ArrayForEach(item, constraints) {
			if (!cJSON_IsObject(item))
				Fail("a constraint is not an object", source);
			type.constraints.push_back(TypeConstraint{Required(item, "name", source),
													  Required(item, "definition", source),
													  Flag(item, "validated", true), Flag(item, "portable", true)});
		}
	type.base = Text(object, "base", source).value_or("");
	type.not_null = Flag(object, "not_null", false);
	type.collation = Text(object, "collation", source);
	type.subtype = Text(object, "subtype", source).value_or("");
	type.opclass = Text(object, "opclass", source);
	type.canonical = Text(object, "canonical", source);
	type.subtype_diff = Text(object, "subtype_diff", source);
	type.multirange = Text(object, "multirange", source).value_or("");
	type.extension = Text(object, "extension", source).value_or("");
	type.reason = Text(object, "reason", source).value_or("");
	if ((type.kind == "domain" && type.base.empty()) || (type.kind == "range" && type.subtype.empty()))
		Fail("a " + type.kind + " without its " + (type.kind == "domain" ? "base type" : "subtype"), source);
	type.json = Printed(object);
	return type;
}

// FromArray reads an array of definitions.
std::vector<TypeDefinition>
FromArray(const cJSON *array, std::string_view source) {
	std::vector<TypeDefinition> types;
	const cJSON *item = nullptr;
	cJSON_ArrayForEach(item, array) types.push_back(FromItem(item, source));
	return types;
}

// Content parses a message's content as a JSON object.
CJsonHandle
Content(const Change &change) {
	const RawJson *raw = std::get_if<RawJson>(&change.content);
	if (raw == nullptr)
		Fail("the content is not a JSON object", change.raw);
	CJsonHandle root = ParseJsonDocument(raw->text);
	if (!root || !cJSON_IsObject(root.get()))
		Fail("the content is not a JSON object", raw->text);
	return root;
}

} // namespace

TypeDefinition
ParseTypeDefinition(std::string_view json) {
	CJsonHandle root = ParseJsonDocument(json);
	if (!root)
		Fail("not JSON", json);
	return FromItem(root.get(), json);
}

std::vector<TypeDefinition>
ParseTypeDefinitions(const cJSON *types, std::string_view source) {
	if (types == nullptr || cJSON_IsNull(types))
		return {};
	if (!cJSON_IsArray(types))
		Fail("\"types\" is not an array", source);
	return FromArray(types, source);
}

std::optional<TypeMessage>
ParseTypeMessage(const Change &change) {
	if (change.op != Op::Message || change.prefix != kTypePrefix)
		return std::nullopt;
	CJsonHandle root = Content(change);
	const RawJson &raw = std::get<RawJson>(change.content);
	TypeMessage message;
	message.command = Text(root.get(), "command", raw.text).value_or("");
	message.subject = Text(root.get(), "type", raw.text);
	const cJSON *types = Array(root.get(), "types", raw.text);
	if (types == nullptr)
		Fail("no \"types\" array", raw.text);
	message.types = FromArray(types, raw.text);
	return message;
}

} // namespace mosta::sidecar
