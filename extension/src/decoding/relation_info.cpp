/*-------------------------------------------------------------------------
 * relation_info.cpp
 *	  The per-table description cache of the change writer.
 *
 * Regime: PG. Caches hang off memory contexts; a reset callback unlinks a
 * cache from the list the relcache callback walks, so the callback, which
 * PostgreSQL cannot unregister, never sees freed memory.
 *-------------------------------------------------------------------------
 */
#include "mostajs/decoding/relation_info.hpp"

extern "C" {
#include "postgres.h"
#include "access/htup_details.h" /* GETSTRUCT */
#include "access/relation.h"	 /* RelationIdGetRelation, RelationClose */
#include "access/sysattr.h"		 /* FirstLowInvalidHeapAttributeNumber */
#include "access/transam.h"		 /* FirstNormalObjectId */
#include "catalog/partition.h"	 /* get_partition_ancestors */
#include "lib/stringinfo.h"
#include "nodes/bitmapset.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h" /* format_type_be */
#include "utils/hsearch.h"
#include "utils/inval.h" /* CacheRegisterRelcacheCallback */
#include "utils/json.h"	 /* escape_json */
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"		  /* NAMESPACEOID, TYPEOID */
#include "catalog/pg_index.h"	  /* Form_pg_index */
#include "catalog/pg_namespace.h" /* PG_CATALOG_NAMESPACE */
}

namespace mostajs {

struct RelationInfoCache {
	HTAB *entries; /* Oid -> RelationInfo */
	bool report_under_root;
	RelationInfoCache *next; /* in live_caches */
};

namespace {

/* Every cache alive in this backend; the relcache callback marks their entries stale. */
RelationInfoCache *live_caches = nullptr;
bool callback_registered = false;
/* Counts entry builds, so a consumer of descriptions can tell a rebuilt entry from the one it has seen. */
uint64 build_count = 0;
/* Counts relcache invalidations, so a rebuild can tell whether one arrived while it read the catalogs. */
uint64 invalidation_count = 0;

/* InvalidateEntries marks stale the entries of relid (or all, for InvalidOid) in every live cache. */
void
InvalidateEntries(Datum, Oid relid) {
	invalidation_count++;
	for (RelationInfoCache *cache = live_caches; cache != nullptr; cache = cache->next) {
		HASH_SEQ_STATUS scan;
		hash_seq_init(&scan, cache->entries);
		while (RelationInfo *info = static_cast<RelationInfo *>(hash_seq_search(&scan))) {
			if (!OidIsValid(relid) || info->relid == relid || info->reported_relid == relid)
				info->valid = false;
		}
	}
}

/* InvalidateAll marks every entry stale: a schema or type was renamed, and names are part of the entries. */
void
InvalidateAll(Datum, int, uint32) {
	InvalidateEntries(0, InvalidOid);
}

/* UnlinkCache removes a cache whose memory is going away from live_caches. */
void
UnlinkCache(void *arg) {
	RelationInfoCache *gone = static_cast<RelationInfoCache *>(arg);
	for (RelationInfoCache **link = &live_caches; *link != nullptr; link = &(*link)->next) {
		if (*link == gone) {
			*link = gone->next;
			return;
		}
	}
}

/* ReportedRelid returns the top partition root of a partition when reporting under roots, else relid. */
Oid
ReportedRelid(const RelationInfoCache *cache, Relation rel) {
	if (!cache->report_under_root || !rel->rd_rel->relispartition)
		return RelationGetRelid(rel);
	List *ancestors = get_partition_ancestors(RelationGetRelid(rel));
	Oid root = llast_oid(ancestors);
	list_free(ancestors);
	return root;
}

/* SetNames fills the reported schema and table names of info. */
void
SetNames(RelationInfo *info, Relation reported) {
	info->schema = get_namespace_name(RelationGetNamespace(reported));
	info->table = pstrdup(RelationGetRelationName(reported));
	StringInfoData names;
	initStringInfo(&names);
	appendStringInfoString(&names, "\"schema\":");
	escape_json(&names, info->schema);
	appendStringInfoString(&names, ",\"table\":");
	escape_json(&names, info->table);
	info->names_json = names.data;
}

/*
 * KeyIndex returns the index whose columns a target applies changes by: the
 * replica identity index (the primary key under REPLICA IDENTITY DEFAULT),
 * whose columns the old row of an update or delete carries, else the primary
 * key (REPLICA IDENTITY FULL or NOTHING); InvalidOid when there is neither.
 */
Oid
KeyIndex(Relation rel) {
	Oid index = RelationGetReplicaIndex(rel);
	return OidIsValid(index) ? index : RelationGetPrimaryKeyIndex(rel);
}

/*
 * KeyJson returns the key columns of key_owner as a JSON array in the key
 * index's column order (PRIMARY KEY (b, a) gives ["b","a"]): the order a
 * target builds its own key and composite ids in; nullptr when KeyIndex
 * finds no index.
 * Generated columns are never written, so never listed.
 */
const char *
KeyJson(Relation key_owner) {
	Oid index = KeyIndex(key_owner);
	if (!OidIsValid(index))
		return nullptr;
	HeapTuple tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(index));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for index %u", index);
	Form_pg_index form = reinterpret_cast<Form_pg_index>(GETSTRUCT(tuple));
	TupleDesc desc = RelationGetDescr(key_owner);
	StringInfoData json;
	initStringInfo(&json);
	appendStringInfoChar(&json, '[');
	for (int i = 0; i < form->indnkeyatts; i++) {
		AttrNumber attnum = form->indkey.values[i];
		if (attnum <= 0)
			continue; /* an expression: never part of a key index */
		Form_pg_attribute attribute = TupleDescAttr(desc, attnum - 1);
		if (attribute->attisdropped || attribute->attgenerated)
			continue;
		appendStringInfo(&json, "%s%s", json.len > 1 ? "," : "", JsonString(NameStr(attribute->attname)));
	}
	appendStringInfoChar(&json, ']');
	ReleaseSysCache(tuple);
	return json.data;
}

/* TypeName returns a column type's name: built-in types as format_type prints them, others schema-qualified. */
char *
TypeName(Oid type_oid, int32 typmod) {
	bits16 flags = FORMAT_TYPE_TYPEMOD_GIVEN;
	/* the name must not depend on the search_path of whoever decodes */
	if (type_oid >= FirstNormalObjectId)
		flags |= FORMAT_TYPE_FORCE_QUALIFY;
	return format_type_extended(type_oid, typmod, flags);
}

/* InBitmap tells whether attribute number attnum is in a bitmap of RelationGetIndexAttrBitmap. */
bool
InBitmap(AttrNumber attnum, const Bitmapset *columns) {
	return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, columns);
}

/*
 * AppendColumnDocument writes one column of the relation document:
 * {"name":"tags","type":"text[]","oid":1009,"typmod":-1,"dims":1}. dims is
 * the array depth, the declared one (attndims) when there is one, else 1 for
 * an array and 0 for anything else.
 */
void
AppendColumnDocument(StringInfo out, const ColumnInfo *column, Form_pg_attribute attribute, const char *type_name) {
	int dims = 0;
	if (column->encoding->kind == ValueKind::Array)
		dims = attribute->attndims > 0 ? attribute->attndims : 1;
	appendStringInfo(out, "%s{\"name\":%s,\"type\":", out->len > 1 ? "," : "", column->json_name);
	escape_json(out, type_name);
	appendStringInfo(out, ",\"oid\":%u,\"typmod\":%d,\"dims\":%d}", attribute->atttypid, attribute->atttypmod, dims);
}

/* IdentityName returns the name of a replica identity (pg_class.relreplident) in the relation document. */
const char *
IdentityName(char identity) {
	switch (identity) {
	case REPLICA_IDENTITY_DEFAULT:
		return "default";
	case REPLICA_IDENTITY_INDEX:
		return "index";
	case REPLICA_IDENTITY_FULL:
		return "full";
	case REPLICA_IDENTITY_NOTHING:
		return "nothing";
	}
	elog(ERROR, "unknown replica identity \"%c\"", identity);
	pg_unreachable();
}

/*
 * SetRelationDocument fills the relation document of format version 3 from
 * what SetNames and SetColumns computed; columns_json holds the column
 * objects as "[{...},{...}]". The identity is rel's, as rel wrote the WAL.
 */
void
SetRelationDocument(RelationInfo *info, Relation rel, const char *columns_json) {
	StringInfoData json;
	initStringInfo(&json);
	appendStringInfo(&json, "{\"op\":\"relation\",\"relid\":%u,%s,\"identity\":\"%s\"", info->reported_relid,
					 info->names_json, IdentityName(rel->rd_rel->relreplident));
	if (info->key_json != nullptr)
		appendStringInfo(&json, ",\"key\":%s", info->key_json);
	appendStringInfo(&json, ",\"columns\":%s}", columns_json);
	info->relation_json = json.data;
}

/*
 * SetColumns fills the column descriptions, the key list, the type map and
 * the relation document of info. Columns come in the reported relation's
 * order with its names and types; values are read from rel's tuples, so
 * attnum is rel's. The key is the reported relation's, or rel's when it has
 * none; which columns the old row carries is rel's replica identity, as rel
 * wrote the WAL.
 */
void
SetColumns(RelationInfo *info, Relation rel, Relation reported) {
	TupleDesc desc = RelationGetDescr(reported);
	Relation key_owner = OidIsValid(KeyIndex(reported)) ? reported : rel;
	Bitmapset *identity = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
	info->identity_full = rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
	info->columns = static_cast<ColumnInfo *>(palloc0(sizeof(ColumnInfo) * desc->natts));
	info->column_count = 0;

	StringInfoData types_json;
	initStringInfo(&types_json);
	appendStringInfoChar(&types_json, '{');
	StringInfoData columns_json;
	initStringInfo(&columns_json);
	appendStringInfoChar(&columns_json, '[');
	for (int i = 0; i < desc->natts; i++) {
		Form_pg_attribute attribute = TupleDescAttr(desc, i);
		if (attribute->attisdropped || attribute->attgenerated)
			continue;
		const char *name = NameStr(attribute->attname);
		AttrNumber own_attnum = reported == rel ? attribute->attnum : get_attnum(RelationGetRelid(rel), name);
		ColumnInfo *column = &info->columns[info->column_count++];
		column->attnum = own_attnum;
		column->is_varlena = attribute->attlen == -1;
		column->in_identity = info->identity_full || InBitmap(own_attnum, identity);
		column->json_name = JsonString(name);
		column->json_key = psprintf("%s:", column->json_name);
		column->encoding = BuildTypeEncoding(attribute->atttypid, CurrentMemoryContext);
		const char *type_name = TypeName(attribute->atttypid, attribute->atttypmod);
		appendStringInfo(&types_json, "%s%s", types_json.len > 1 ? "," : "", column->json_key);
		escape_json(&types_json, type_name);
		AppendColumnDocument(&columns_json, column, attribute, type_name);
	}
	appendStringInfoChar(&types_json, '}');
	appendStringInfoChar(&columns_json, ']');
	info->key_json = KeyJson(key_owner);
	info->types_json = types_json.data;
	SetRelationDocument(info, rel, columns_json.data);
}

/* Rebuild describes rel afresh in info, in a new memory context. */
void
Rebuild(RelationInfoCache *cache, RelationInfo *info, Relation rel, MemoryContext parent) {
	if (info->context != nullptr)
		MemoryContextDelete(info->context);
	info->context = AllocSetContextCreate(parent, "mostajs relation info", ALLOCSET_SMALL_SIZES);
	info->valid = false;
	info->filter = FilterResult::Unknown;
	info->build_id = ++build_count;
	uint64 invalidations_before = invalidation_count;
	MemoryContext old_context = MemoryContextSwitchTo(info->context);
	info->reported_relid = ReportedRelid(cache, rel);
	Relation reported = rel;
	if (info->reported_relid != info->relid)
		reported = RelationIdGetRelation(info->reported_relid);
	SetNames(info, reported);
	SetColumns(info, rel, reported);
	if (reported != rel)
		RelationClose(reported);
	MemoryContextSwitchTo(old_context);
	/* an invalidation that arrived while we read the catalogs may have made this stale already */
	info->valid = invalidation_count == invalidations_before;
}

} // namespace

char *
JsonString(const char *name) {
	StringInfoData json;
	initStringInfo(&json);
	escape_json(&json, name);
	return json.data;
}

RelationInfoCache *
CreateRelationInfoCache(MemoryContext parent, bool report_under_root) {
	MemoryContext context = AllocSetContextCreate(parent, "mostajs relation cache", ALLOCSET_DEFAULT_SIZES);
	RelationInfoCache *cache = static_cast<RelationInfoCache *>(MemoryContextAllocZero(context, sizeof *cache));
	HASHCTL hash_control;
	hash_control.keysize = sizeof(Oid);
	hash_control.entrysize = sizeof(RelationInfo);
	hash_control.hcxt = context;
	cache->entries = hash_create("mostajs relation cache", 128, &hash_control, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	cache->report_under_root = report_under_root;

	MemoryContextCallback *unlink =
		static_cast<MemoryContextCallback *>(MemoryContextAllocZero(context, sizeof(MemoryContextCallback)));
	unlink->func = UnlinkCache;
	unlink->arg = cache;
	MemoryContextRegisterResetCallback(context, unlink);
	cache->next = live_caches;
	live_caches = cache;
	if (!callback_registered) {
		CacheRegisterRelcacheCallback(InvalidateEntries, 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, InvalidateAll, 0);
		CacheRegisterSyscacheCallback(TYPEOID, InvalidateAll, 0);
		callback_registered = true;
	}
	return cache;
}

RelationInfoCache *
BackendRelationInfoCache(bool report_under_root) {
	static RelationInfoCache *backend_caches[2] = {nullptr, nullptr}; /* plain pointers: nothing runs at exit */
	RelationInfoCache *&cache = backend_caches[report_under_root ? 1 : 0];
	if (cache == nullptr)
		cache = CreateRelationInfoCache(TopMemoryContext, report_under_root);
	return cache;
}

RelationInfo *
GetRelationInfo(RelationInfoCache *cache, Relation rel) {
	Oid relid = RelationGetRelid(rel);
	bool found;
	RelationInfo *info = static_cast<RelationInfo *>(hash_search(cache->entries, &relid, HASH_ENTER, &found));
	if (!found) {
		info->context = nullptr;
		info->valid = false;
	}
	if (!info->valid)
		Rebuild(cache, info, rel, GetMemoryChunkContext(cache));
	return info;
}

} // namespace mostajs
