/*
 * table_select.hpp
 *     Which tables a copy takes: --tables and --exclude globs (fnmatch, matched against "schema.table" and against
 *     the bare table name) and --schemas, the ORM's entities.json (the seed's .mostajs/generated/entities.json,
 *     "one source of truth"): a JSON array, or an object {"entities": [...]}, of entity objects, each naming its
 *     table by "collection", else "table", else "name", and optionally its "schema" (a plain string
 *     "schema.table" or "table" is taken too). A table an entity names that the source lacks, or a --tables glob
 *     matching no table, is a UsageError naming it: a cron job with a typo fails instead of backing up nothing.
 */
#pragma once

#include <string>
#include <vector>

#include "model/schema.hpp"

namespace mosta::copy {

// A table named by an entity of entities.json; schema "" when the entity does not say.
struct EntityTable {
	std::string schema;
	std::string name;
};

// ReadEntitiesFile returns the tables path's entities name; throws UsageError naming the file and the entity.
std::vector<EntityTable> ReadEntitiesFile(const std::string &path);

// ReadEntitiesText reads the text of an entities.json (origin names it in errors).
std::vector<EntityTable> ReadEntitiesText(const std::string &text, const std::string &origin);

struct TableSelection {
	std::vector<std::string> tables;  // --tables globs; empty: every table
	std::vector<std::string> exclude; // --exclude globs
	bool use_entities = false;		  // --schemas given
	std::vector<EntityTable> entities;
	std::string entities_origin; // the --schemas file, for messages
};

// SelectTables returns the part of all a copy takes: the selected tables (in all's order: foreign-key order),
// the sequences they own or their defaults name (every sequence when nothing is filtered), every type. An entity
// without a schema names the one table of that name (public's when several schemas have one); throws UsageError.
DatabaseSchema SelectTables(const DatabaseSchema &all, const TableSelection &selection);

// MatchesGlob says whether table matches glob (against "schema.name" or "name").
bool MatchesGlob(const std::string &glob, const TableDef &table);

} // namespace mosta::copy
