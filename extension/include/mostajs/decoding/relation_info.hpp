/*-------------------------------------------------------------------------
 * relation_info.hpp
 *	  What writing a change of one table needs, computed once per table and
 *	  shape: names and keys already as JSON, each column's encoding.
 *
 * A RelationInfoCache is dropped with its memory context. Entries are
 * rebuilt after a relcache invalidation of their table (or of the root it
 * is reported under), so each change is written with the table's shape at
 * that change's LSN: logical decoding runs the invalidations of a DDL
 * command exactly where it happened in the transaction.
 *
 * Regime: PG.
 *-------------------------------------------------------------------------
 */
#pragma once

#include "mostajs/decoding/type_encoding.hpp"

extern "C" {
#include "postgres.h"
#include "utils/relcache.h" /* Relation */
}

namespace mostajs {

/* ColumnInfo describes one live column of a table. */
struct ColumnInfo {
	AttrNumber attnum;
	bool is_varlena;
	bool in_identity;	   /* present in the old row the replica identity logs */
	const char *json_key;  /* "\"name\":" */
	const char *json_name; /* "\"name\"" */
	TypeEncoding *encoding;
};

/* How a table passes the plugin's table filters; computed lazily by the plugin. */
enum class FilterResult : uint8 { Unknown, Included, Excluded };

/* RelationInfo is the cached description of one table. */
struct RelationInfo {
	Oid relid;
	Oid reported_relid; /* relid, or its top partition root when changes are reported under the root */
	bool valid;
	MemoryContext context; /* owns everything below */
	const char *schema;	   /* reported names, plain */
	const char *table;
	const char *names_json; /* "\"schema\":\"s\",\"table\":\"t\"" */
	const char *key_json;	/* "[\"id\"]" in the key index's order, or nullptr when the table has no key */
	const char *types_json; /* "{\"id\":\"integer\",...}" */
	/* the relation document of format version 3: {"op":"relation","relid":...,"columns":[...]} */
	const char *relation_json;
	uint64 build_id;	/* unique in the backend for each build of an entry: a new one means a new description */
	bool identity_full; /* REPLICA IDENTITY FULL: the old row has every column */
	int column_count;
	ColumnInfo *columns;
	FilterResult filter;
};

struct RelationInfoCache;

/* CreateRelationInfoCache makes an empty cache living in a child of parent. */
RelationInfoCache *CreateRelationInfoCache(MemoryContext parent, bool report_under_root);

/* BackendRelationInfoCache returns this backend's cache for code outside decoding (triggers, snapshots), created on
 * first use; report_under_root picks the one that describes partitions under their top-most root. */
RelationInfoCache *BackendRelationInfoCache(bool report_under_root = false);

/* GetRelationInfo returns the up-to-date description of rel. */
RelationInfo *GetRelationInfo(RelationInfoCache *cache, Relation rel);

/* AppendJsonName writes name as a JSON string into a new palloc'd C string. */
char *JsonString(const char *name);

} // namespace mostajs
