/*-------------------------------------------------------------------------
 * collections.cpp
 *	  mosta.resolve_collection(): turns a collection name from a rule into
 *	  its canonical schema-qualified name, after checking that changes to
 *	  it can be applied on a target (a table, with a key to apply by).
 *
 * Regime: the extern "C" entry is PG regime and only calls InvokeCpp;
 * ResolveCollectionImpl is C++ regime and reaches the catalogs through
 * PgCall(ReadTableKey), a PG-regime helper.
 *-------------------------------------------------------------------------
 */
#include <cstring>
#include <string>

#include "mostajs/catalog/internal_tables.hpp"
#include "mostajs/invoke_cpp.hpp"
#include "mostajs/pg/text.hpp"
#include "mostajs/pg_call.hpp"

extern "C" {
#include "postgres.h"
#include "access/relation.h"   /* relation_open, relation_close */
#include "catalog/catalog.h"   /* IsSystemClass */
#include "catalog/namespace.h" /* makeRangeVarFromNameList, RangeVarGetRelid */
#include "catalog/pg_class.h"  /* RELKIND_*, REPLICA_IDENTITY_* */
#include "fmgr.h"
#include "utils/lsyscache.h" /* get_namespace_name */
#include "utils/regproc.h"	 /* stringToQualifiedNameList */
#include "utils/rel.h"		 /* RelationGetRelationName, RelationGetNamespace */
#include "utils/relcache.h"	 /* RelationGetReplicaIndex */
#include "utils/builtins.h"	 /* quote_qualified_identifier */

PG_FUNCTION_INFO_V1(mostajs_resolve_collection);
}

namespace mostajs {

namespace {

/* What ReadTableKey learns about a table; plain data, so PG regime can fill it. */
struct TableKey {
	Oid relid;
	char relkind;
	char persistence; /* RELPERSISTENCE_* */
	char replica_identity;
	bool is_system;		  /* a catalog or TOAST table, or in information_schema */
	bool is_internal;	  /* one of the extension's own tables (IsInternalRelation) */
	Oid key_index;		  /* primary key, or the REPLICA IDENTITY USING INDEX index */
	char *qualified_name; /* palloc'd, quoted where needed */
};

/*
 * ReadTableKey resolves name with the search_path (raising 42602/42601 on bad
 * syntax) and fills key; key->relid is InvalidOid when there is no such table.
 * PG regime: no C++ object lives here.
 */
void
ReadTableKey(const char *name, TableKey *key) {
	RangeVar *range_var = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	key->relid = RangeVarGetRelid(range_var, AccessShareLock, true);
	if (!OidIsValid(key->relid))
		return;
	Relation rel = relation_open(key->relid, NoLock); /* locked just above */
	key->relkind = rel->rd_rel->relkind;
	key->persistence = rel->rd_rel->relpersistence;
	key->replica_identity = rel->rd_rel->relreplident;
	const char *schema = get_namespace_name(RelationGetNamespace(rel));
	key->is_system = IsSystemClass(key->relid, rel->rd_rel) || strcmp(schema, "information_schema") == 0;
	key->is_internal = IsInternalRelation(key->relid);
	key->key_index = RelationGetReplicaIndex(rel);
	key->qualified_name = quote_qualified_identifier(schema, RelationGetRelationName(rel));
	relation_close(rel, NoLock);
}

/* KeyHint tells how to give table a key changes can be applied by. */
std::string
KeyHint(const std::string &table) {
	return "Add a primary key (ALTER TABLE " + table + " ADD PRIMARY KEY (...)), or run ALTER TABLE " + table +
		   " REPLICA IDENTITY FULL.";
}

/* ResolveCollectionImpl returns the canonical name of the collection, or raises why it cannot be replicated. */
Datum
ResolveCollectionImpl(FunctionCallInfo fcinfo) {
	if (pg::ArgIsNull(fcinfo, 0))
		throw PgError(sqlstate::kNullValueNotAllowed, "collection name must not be null");
	std::string name = pg::TextArg(fcinfo, 0);
	if (name.empty())
		throw PgError(sqlstate::kInvalidParameterValue, "collection name must not be empty", "",
					  "Name a table, optionally schema-qualified, or use '*' for every table with a key.");

	TableKey key{};
	try {
		PgCall(ReadTableKey, name.c_str(), &key);
	} catch (const PgError &e) {
		/* name syntax errors (42602, 42601) from PostgreSQL say neither which name nor how to fix it */
		std::string state = e.SqlState();
		if (state != sqlstate::kInvalidName && state != sqlstate::kSyntaxError)
			throw;
		throw PgError(state, "invalid collection name \"" + name + "\"", e.what(),
					  "Write names as in SQL: schema.table, with double quotes around names that are not "
					  "lower-case identifiers, e.g. ARRAY['\"Mixed Case\"'].");
	}
	if (!OidIsValid(key.relid))
		throw PgError(sqlstate::kUndefinedTable, "relation \"" + name + "\" does not exist", "",
					  "Create the table first, or schema-qualify its name: collections are resolved with the "
					  "current search_path.");

	std::string table = key.qualified_name;
	if (key.is_system)
		throw PgError(sqlstate::kWrongObjectType, "\"" + table + "\" is a system table", "",
					  "Collections must be tables of your own schemas.");
	if (key.is_internal)
		throw PgError(sqlstate::kWrongObjectType, "\"" + table + "\" is a table of mostajs",
					  "The extension's catalog holds replica credentials and status: it is never replicated.",
					  "Collections must be tables of your own schemas.");
	if (key.relkind != RELKIND_RELATION && key.relkind != RELKIND_PARTITIONED_TABLE)
		throw PgError(sqlstate::kWrongObjectType, "\"" + table + "\" is not a table", "",
					  "Collections must be ordinary or partitioned tables.");
	if (key.persistence == RELPERSISTENCE_TEMP)
		throw PgError(sqlstate::kWrongObjectType, "\"" + table + "\" is a temporary table", "",
					  "Temporary tables are private to one session: the sidecar can never read them.");
	if (key.persistence == RELPERSISTENCE_UNLOGGED)
		throw PgError(sqlstate::kObjectNotInPrerequisiteState, "table \"" + table + "\" is unlogged",
					  "Changes to unlogged tables are not written to WAL, so they cannot be captured.",
					  "Run ALTER TABLE " + table + " SET LOGGED.");
	if (key.replica_identity == REPLICA_IDENTITY_NOTHING)
		throw PgError(sqlstate::kObjectNotInPrerequisiteState, "table \"" + table + "\" has REPLICA IDENTITY NOTHING",
					  "Changes are applied on targets by key, so updates and deletes of this table could not be "
					  "replicated.",
					  KeyHint(table));
	if (!OidIsValid(key.key_index) && key.replica_identity != REPLICA_IDENTITY_FULL)
		throw PgError(sqlstate::kObjectNotInPrerequisiteState,
					  "table \"" + table + "\" has neither a primary key nor REPLICA IDENTITY FULL",
					  "Changes are applied on targets by key, so every collection needs one.", KeyHint(table));
	return pg::TextDatum(table);
}

} // namespace

} // namespace mostajs

/* mostajs_resolve_collection is mosta.resolve_collection(name text) → text. */
extern "C" Datum
mostajs_resolve_collection(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::ResolveCollectionImpl>(fcinfo);
}
