/*
 * type_definition.hpp
 *     The definitions of user-defined types that DDL messages carry (docs/capture.md section 3, "types"), as
 *     plain C++ values: the "types" array of a mostajs.ddl table document (the types its columns need), and the
 *     content of a mostajs.type message (an ALTER TYPE / ALTER DOMAIN, or the initial copy's announcement).
 *     mosta._type_definition (sql/parts/10_core.sql) is the one place that reads them from the catalogs; the SQL
 *     dump turns them into CREATE TYPE / ALTER TYPE statements (sql_dump_types.cpp).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "decode/change.hpp"

namespace mosta::sidecar {

// kTypePrefix is the prefix of the extension's type messages.
inline constexpr std::string_view kTypePrefix = "mostajs.type";

// One attribute of a composite type.
struct TypeAttribute {
	std::string name;
	std::string type;					  // format_type's spelling
	std::optional<std::string> collation; // qualified, when not the attribute type's own
};

// One CHECK constraint of a domain.
struct TypeConstraint {
	std::string name;
	std::string definition; // pg_get_constraintdef: "CHECK ((VALUE > 0))", "... NOT VALID"
	bool validated = true;
	bool portable = true; // false: it calls a function or operator outside pg_catalog
};

// One user type: its identity, its kind and the kind's fields (see mosta._type_definition).
struct TypeDefinition {
	std::uint32_t oid = 0;
	std::string type; // format_type's spelling, as change documents' "types" name it: "public.mood"
	std::string schema;
	std::string name;
	std::string kind; // enum, composite, domain, range, extension, unsupported
	std::vector<std::string> labels;
	std::vector<TypeAttribute> attributes;
	std::string base; // domain
	bool not_null = false;
	std::optional<std::string> collation; // domain, range
	std::vector<TypeConstraint> constraints;
	std::string subtype; // range
	std::optional<std::string> opclass;
	std::optional<std::string> canonical;
	std::optional<std::string> subtype_diff;
	std::string multirange;
	std::string extension; // kind extension: its extension
	std::string reason;	   // kind unsupported: why
	std::string json;	   // the definition as one line of JSON (what the dump records)
};

// A mostajs.type message's content.
struct TypeMessage {
	std::string command;
	std::optional<std::string> subject; // the type the command changed; absent for the initial copy's
	std::vector<TypeDefinition> types;	// dependencies first
};

// ParseTypeDefinition reads one definition from its JSON text; throws std::runtime_error naming the problem.
TypeDefinition ParseTypeDefinition(std::string_view json);

// ParseTypeDefinitions reads a "types" array from its JSON text (source: the document, for errors); [] when types
// is "null" or empty (absent); throws std::runtime_error on a malformed one. ParseDdlMessage reads a table
// document's "types" with it.
std::vector<TypeDefinition> ParseTypeDefinitions(std::string_view types, std::string_view source);

// ParseTypeMessage returns the content of a mostajs.type message, nullopt for anything else; throws
// std::runtime_error on a malformed one.
std::optional<TypeMessage> ParseTypeMessage(const Change &change);

} // namespace mosta::sidecar
