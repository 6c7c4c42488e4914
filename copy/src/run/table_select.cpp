/*
 * table_select.cpp
 *     --tables, --exclude and --schemas (table_select.hpp).
 */
#include "run/table_select.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "run/options.hpp"
#include "util/json_text.hpp"

namespace mosta::copy {

namespace ondemand = simdjson::ondemand;

namespace {

// EntityFromObject reads one entity object: the table from "collection", "table" or "name", and "schema".
EntityTable
EntityFromObject(ondemand::object object, const std::string &where) {
	std::string collection, table, name, schema;
	for (auto field : object) {
		std::string_view key = field.unescaped_key().value();
		std::string *into = key == "collection" ? &collection
							: key == "table"	? &table
							: key == "name"		? &name
							: key == "schema"	? &schema
												: nullptr;
		if (into == nullptr)
			continue;
		ondemand::value value = field.value();
		std::string_view text;
		if (value.type().value() == ondemand::json_type::null)
			continue;
		if (value.get_string().get(text) != simdjson::SUCCESS)
			throw UsageError(where + ": \"" + std::string(key) + "\" must be a string");
		*into = std::string(text);
	}
	EntityTable entity;
	entity.schema = schema;
	entity.name = !collection.empty() ? collection : !table.empty() ? table : name;
	if (entity.name.empty())
		throw UsageError(where + ": names no table (expected \"collection\", \"table\" or \"name\")");
	return entity;
}

EntityTable
EntityFromString(std::string_view text, const std::string &where) {
	EntityTable entity;
	std::size_t dot = text.find('.');
	if (dot != std::string_view::npos) {
		entity.schema = std::string(text.substr(0, dot));
		entity.name = std::string(text.substr(dot + 1));
	} else {
		entity.name = std::string(text);
	}
	if (entity.name.empty())
		throw UsageError(where + ": an empty table name");
	return entity;
}

void
ReadEntityArray(ondemand::array array, const std::string &origin, std::vector<EntityTable> &out) {
	std::size_t index = 0;
	for (auto element : array) {
		std::string where = origin + ": entity " + std::to_string(index++);
		ondemand::value value = element.value();
		ondemand::json_type type = value.type().value();
		if (type == ondemand::json_type::object)
			out.push_back(EntityFromObject(value.get_object().value(), where));
		else if (type == ondemand::json_type::string)
			out.push_back(EntityFromString(value.get_string().value(), where));
		else
			throw UsageError(where + ": expected an object {\"collection\": TABLE, \"schema\": SCHEMA}");
	}
}

} // namespace

std::vector<EntityTable>
ReadEntitiesText(const std::string &text, const std::string &origin) {
	const std::string expected = ": expected a JSON array of entities (or {\"entities\": [...]}), each naming its "
								 "table by \"collection\", \"table\" or \"name\"";
	std::vector<EntityTable> entities;
	try {
		sidecar::JsonParse parse(text);
		ondemand::document &document = parse.Document();
		ondemand::json_type type = document.type().value();
		if (type == ondemand::json_type::array) {
			ReadEntityArray(document.get_array().value(), origin, entities);
		} else if (type == ondemand::json_type::object) {
			bool found = false;
			for (auto field : document.get_object().value()) {
				if (field.unescaped_key().value() != "entities")
					continue;
				ondemand::array array;
				if (field.value().get_array().get(array) != simdjson::SUCCESS)
					throw UsageError(origin + ": \"entities\" must be an array");
				ReadEntityArray(array, origin, entities);
				found = true;
			}
			if (!found)
				throw UsageError(origin + ": no \"entities\" array" + expected);
		} else {
			throw UsageError(origin + expected);
		}
		parse.ExpectEnd();
	} catch (const simdjson::simdjson_error &e) {
		throw UsageError(origin + ": not valid JSON (" + sidecar::JsonErrorText(e) + ")" + expected);
	}
	if (entities.empty())
		throw UsageError(origin + ": no entity" + expected);
	return entities;
}

std::vector<EntityTable>
ReadEntitiesFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw UsageError("cannot read --schemas " + path +
						 ": no such file or not readable (expected the ORM's "
						 "entities.json, e.g. .mostajs/generated/entities.json)");
	std::stringstream text;
	text << in.rdbuf();
	return ReadEntitiesText(text.str(), path);
}

bool
MatchesGlob(const std::string &glob, const TableDef &table) {
	return ::fnmatch(glob.c_str(), table.QualifiedName().c_str(), 0) == 0 ||
		   ::fnmatch(glob.c_str(), table.name.c_str(), 0) == 0;
}

namespace {

// FindEntityTable returns the index in tables of the table entity names; throws UsageError.
std::size_t
FindEntityTable(const std::vector<TableDef> &tables, const EntityTable &entity, const std::string &origin) {
	std::vector<std::size_t> found;
	for (std::size_t i = 0; i < tables.size(); ++i)
		if (tables[i].name == entity.name && (entity.schema.empty() || tables[i].schema == entity.schema))
			found.push_back(i);
	if (found.size() > 1) {
		for (std::size_t i : found)
			if (tables[i].schema == "public")
				return i;
		std::string names;
		for (std::size_t i : found)
			names += (names.empty() ? "" : ", ") + tables[i].QualifiedName();
		throw UsageError(origin + ": table \"" + entity.name + "\" is in several schemas (" + names +
						 "): give the entity a \"schema\"");
	}
	if (found.empty())
		throw UsageError(origin + ": the source has no table " +
						 (entity.schema.empty() ? "\"" + entity.name + "\"" : entity.schema + "." + entity.name) +
						 " (an entity's \"collection\" names its table)");
	return found[0];
}

} // namespace

DatabaseSchema
SelectTables(const DatabaseSchema &all, const TableSelection &selection) {
	if (selection.tables.empty() && selection.exclude.empty() && !selection.use_entities)
		return all;
	std::vector<bool> keep(all.tables.size(), selection.tables.empty() && !selection.use_entities);
	for (const std::string &glob : selection.tables) {
		bool matched = false;
		for (std::size_t i = 0; i < all.tables.size(); ++i)
			if (MatchesGlob(glob, all.tables[i]))
				keep[i] = matched = true;
		if (!matched)
			throw UsageError("--tables " + glob + " matches no table of the source");
	}
	if (selection.use_entities)
		for (const EntityTable &entity : selection.entities)
			keep[FindEntityTable(all.tables, entity, selection.entities_origin)] = true;
	for (const std::string &glob : selection.exclude)
		for (std::size_t i = 0; i < all.tables.size(); ++i)
			if (MatchesGlob(glob, all.tables[i]))
				keep[i] = false;

	DatabaseSchema selected;
	selected.types = all.types;
	std::set<std::string> names;
	for (std::size_t i = 0; i < all.tables.size(); ++i)
		if (keep[i]) {
			selected.tables.push_back(all.tables[i]);
			names.insert(all.tables[i].QualifiedName());
		}
	for (const SequenceDef &sequence : all.sequences) {
		bool wanted = names.count(sequence.owned_by_table) > 0;
		if (!wanted && sequence.owned_by_table.empty())
			for (const TableDef &table : selected.tables)
				for (const ColumnDef &column : table.columns)
					wanted = wanted || (column.default_expr.find("nextval(") != std::string::npos &&
										column.default_expr.find(sequence.name) != std::string::npos);
		if (wanted)
			selected.sequences.push_back(sequence);
	}
	return selected;
}

} // namespace mosta::copy
