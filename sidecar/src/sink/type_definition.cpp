/*
 * type_definition.cpp
 *     Reading type definitions (see type_definition.hpp) with simdjson.
 */
#include "sink/type_definition.hpp"

#include <stdexcept>

#include "util/json_text.hpp"

namespace mosta::sidecar {

namespace {

// Fail throws the error of a malformed type definition.
[[noreturn]] void
Fail(const std::string &problem, std::string_view text) {
	throw std::runtime_error("invalid type definition in a DDL message: " + problem + ": " +
							 std::string(text.substr(0, kDocumentExcerptBytes)));
}

// Text returns a string member's value; nullopt when it is null; throws when it is not a string.
std::optional<std::string>
Text(ondemand::value value, std::string_view name, std::string_view source) {
	ondemand::json_type type = value.type().value();
	if (type == ondemand::json_type::null)
		return std::nullopt;
	if (type != ondemand::json_type::string)
		Fail("\"" + std::string(name) + "\" is not a string", source);
	return std::string(value.get_string().value());
}

// Flag returns a boolean member's value (fallback when it is not a boolean).
bool
Flag(ondemand::value value, bool fallback) {
	if (value.type().value() != ondemand::json_type::boolean)
		return fallback;
	return value.get_bool().value();
}

// ArrayText returns an array member's text; nullopt when it is null; throws when it is not an array.
std::optional<std::string_view>
ArrayText(ondemand::value value, std::string_view name, std::string_view source) {
	ondemand::json_type type = value.type().value();
	if (type == ondemand::json_type::null)
		return std::nullopt;
	if (type != ondemand::json_type::array)
		Fail("\"" + std::string(name) + "\" is not an array", source);
	return RawJsonText(value);
}

// Required returns text, throwing when it is absent or empty.
std::string
Required(const std::optional<std::string> &text, std::string_view name, std::string_view source) {
	if (!text || text->empty())
		Fail("no \"" + std::string(name) + "\"", source);
	return *text;
}

// An attribute's or a constraint's members, read in one pass.
struct Members {
	std::optional<std::string> name, type, collation, definition;
	bool validated = true, portable = true;
};

// ReadMembers reads an attribute or constraint object.
Members
ReadMembers(ondemand::value item, const char *what, std::string_view source) {
	if (item.type().value() != ondemand::json_type::object)
		Fail(std::string("a") + what + " is not an object", source);
	Members members;
	// named: a range over value()'s result would refer into a destroyed temporary
	ondemand::object object_of_field = item.get_object().value();
	for (auto field : object_of_field) {
		std::string_view key = field.unescaped_key().value();
		ondemand::value value = field.value().value();
		if (key == "name")
			members.name = Text(value, key, source);
		else if (key == "type")
			members.type = Text(value, key, source);
		else if (key == "collation")
			members.collation = Text(value, key, source);
		else if (key == "definition")
			members.definition = Text(value, key, source);
		else if (key == "validated")
			members.validated = Flag(value, true);
		else if (key == "portable")
			members.portable = Flag(value, true);
	}
	return members;
}

// FromText reads one definition object from its text (source: the document, for errors).
TypeDefinition
FromText(std::string_view text, std::string_view source) {
	JsonParse parse(text);
	ondemand::document &document = parse.Document();
	if (document.type().value() != ondemand::json_type::object)
		Fail("a definition is not an object", source);
	TypeDefinition type;
	AppendCompactJson(document.get_value().value(), type.json);
	parse.ExpectEnd();
	document.rewind();
	std::optional<double> oid;
	std::optional<std::string> type_name, schema, name, kind, base, subtype, multirange, extension, reason;
	std::optional<std::string_view> labels, attributes, constraints;
	// named: a range over value()'s result would refer into a destroyed temporary
	ondemand::object object_of_field = document.get_object().value();
	for (auto field : object_of_field) {
		std::string_view key = field.unescaped_key().value();
		ondemand::value value = field.value().value();
		if (key == "oid") {
			if (value.type().value() == ondemand::json_type::number)
				oid = value.get_double().value();
		} else if (key == "type") {
			type_name = Text(value, key, source);
		} else if (key == "schema") {
			schema = Text(value, key, source);
		} else if (key == "name") {
			name = Text(value, key, source);
		} else if (key == "kind") {
			kind = Text(value, key, source);
		} else if (key == "labels") {
			labels = ArrayText(value, key, source);
		} else if (key == "attributes") {
			attributes = ArrayText(value, key, source);
		} else if (key == "constraints") {
			constraints = ArrayText(value, key, source);
		} else if (key == "base") {
			base = Text(value, key, source);
		} else if (key == "not_null") {
			type.not_null = Flag(value, false);
		} else if (key == "collation") {
			type.collation = Text(value, key, source);
		} else if (key == "subtype") {
			subtype = Text(value, key, source);
		} else if (key == "opclass") {
			type.opclass = Text(value, key, source);
		} else if (key == "canonical") {
			type.canonical = Text(value, key, source);
		} else if (key == "subtype_diff") {
			type.subtype_diff = Text(value, key, source);
		} else if (key == "multirange") {
			multirange = Text(value, key, source);
		} else if (key == "extension") {
			extension = Text(value, key, source);
		} else if (key == "reason") {
			reason = Text(value, key, source);
		}
	}
	if (!oid || *oid < 1 || *oid > 4294967295.0)
		Fail("no \"oid\"", source);
	type.oid = static_cast<std::uint32_t>(*oid);
	type.type = Required(type_name, "type", source);
	type.schema = Required(schema, "schema", source);
	type.name = Required(name, "name", source);
	type.kind = Required(kind, "kind", source);
	if (labels)
		ForEachElement(*labels, [&](ondemand::value item) {
			if (item.type().value() != ondemand::json_type::string)
				Fail("a label is not a string", source);
			type.labels.emplace_back(item.get_string().value());
		});
	if (attributes)
		ForEachElement(*attributes, [&](ondemand::value item) {
			Members members = ReadMembers(item, "n attribute", source);
			type.attributes.push_back(TypeAttribute{Required(members.name, "name", source),
													Required(members.type, "type", source), members.collation});
		});
	if (constraints)
		ForEachElement(*constraints, [&](ondemand::value item) {
			Members members = ReadMembers(item, " constraint", source);
			type.constraints.push_back(TypeConstraint{Required(members.name, "name", source),
													  Required(members.definition, "definition", source),
													  members.validated, members.portable});
		});
	type.base = base.value_or("");
	type.subtype = subtype.value_or("");
	type.multirange = multirange.value_or("");
	type.extension = extension.value_or("");
	type.reason = reason.value_or("");
	if ((type.kind == "domain" && type.base.empty()) || (type.kind == "range" && type.subtype.empty()))
		Fail("a " + type.kind + " without its " + (type.kind == "domain" ? "base type" : "subtype"), source);
	return type;
}

// FromArray reads an array of definitions from its text.
std::vector<TypeDefinition>
FromArray(std::string_view array, std::string_view source) {
	std::vector<TypeDefinition> types;
	ForEachElement(array, [&](ondemand::value item) { types.push_back(FromText(RawJsonText(item), source)); });
	return types;
}

} // namespace

TypeDefinition
ParseTypeDefinition(std::string_view json) {
	try {
		return FromText(json, json);
	} catch (const simdjson::simdjson_error &error) {
		Fail("not JSON (" + JsonErrorText(error) + ")", json);
	}
}

std::vector<TypeDefinition>
ParseTypeDefinitions(std::string_view types, std::string_view source) {
	try {
		std::string_view trimmed = TrimJsonSpace(types);
		if (trimmed.empty() || trimmed == "null")
			return {};
		if (trimmed.front() != '[')
			Fail("\"types\" is not an array", source);
		return FromArray(trimmed, source);
	} catch (const simdjson::simdjson_error &error) {
		Fail("not JSON (" + JsonErrorText(error) + ")", source);
	}
}

std::optional<TypeMessage>
ParseTypeMessage(const Change &change) {
	if (change.op != Op::Message || change.prefix != kTypePrefix)
		return std::nullopt;
	const RawJson *raw = std::get_if<RawJson>(&change.content);
	if (raw == nullptr)
		Fail("the content is not a JSON object", change.raw);
	std::string_view text = raw->text;
	try {
		JsonParse parse(text);
		if (parse.Document().type().value() != ondemand::json_type::object)
			Fail("the content is not a JSON object", text);
		TypeMessage message;
		std::optional<std::string_view> types;
		// named: a range over value()'s result would refer into a destroyed temporary
		ondemand::object object_of_field = parse.Document().get_object().value();
		for (auto field : object_of_field) {
			std::string_view key = field.unescaped_key().value();
			ondemand::value value = field.value().value();
			if (key == "command")
				message.command = Text(value, key, text).value_or("");
			else if (key == "type")
				message.subject = Text(value, key, text);
			else if (key == "types")
				types = ArrayText(value, key, text);
		}
		parse.ExpectEnd();
		if (!types)
			Fail("no \"types\" array", text);
		message.types = FromArray(*types, text);
		return message;
	} catch (const simdjson::simdjson_error &error) {
		Fail("the content is not a JSON object (" + JsonErrorText(error) + ")", text);
	}
}

} // namespace mosta::sidecar
