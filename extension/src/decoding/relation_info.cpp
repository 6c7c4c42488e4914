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
#include "access/relation.h"   /* RelationIdGetRelation, RelationClose */
#include "access/sysattr.h"	   /* FirstLowInvalidHeapAttributeNumber */
#include "catalog/partition.h" /* get_partition_ancestors */
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
SetNames(RelationInfo *info, Relation rel) {
	Relation reported = rel;
	if (info->reported_relid != info->relid)
		reported = RelationIdGetRelation(info->reported_relid);
	info->schema = get_namespace_name(RelationGetNamespace(reported));
	info->table = pstrdup(RelationGetRelationName(reported));
	if (reported != rel)
		RelationClose(reported);

	StringInfoData names;
	initStringInfo(&names);
	appendStringInfoString(&names, "\"schema\":");
	escape_json(&names, info->schema);
	appendStringInfoString(&names, ",\"table\":");
	escape_json(&names, info->table);
	info->names_json = names.data;
}

/* KeyColumns returns the primary key's columns, else the replica identity index's (nullptr: none). */
Bitmapset *
KeyColumns(Relation rel) {
	Bitmapset *key = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_PRIMARY_KEY);
	if (key == nullptr)
		key = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
	return key;
}

/* SetColumns fills the column descriptions, the key list and the type map of info. */
void
SetColumns(RelationInfo *info, Relation rel) {
	TupleDesc desc = RelationGetDescr(rel);
	Bitmapset *key = KeyColumns(rel);
	Bitmapset *identity = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_IDENTITY_KEY);
	info->identity_full = rel->rd_rel->relreplident == REPLICA_IDENTITY_FULL;
	info->columns = static_cast<ColumnInfo *>(palloc0(sizeof(ColumnInfo) * desc->natts));
	info->column_count = 0;

	StringInfoData key_json, types_json;
	initStringInfo(&key_json);
	initStringInfo(&types_json);
	appendStringInfoChar(&key_json, '[');
	appendStringInfoChar(&types_json, '{');
	for (int i = 0; i < desc->natts; i++) {
		Form_pg_attribute attribute = TupleDescAttr(desc, i);
		if (attribute->attisdropped || attribute->attgenerated)
			continue;
		ColumnInfo *column = &info->columns[info->column_count++];
		int bit = attribute->attnum - FirstLowInvalidHeapAttributeNumber;
		column->attnum = attribute->attnum;
		column->is_varlena = attribute->attlen == -1;
		column->in_key = bms_is_member(bit, key);
		column->in_identity = info->identity_full || bms_is_member(bit, identity);
		column->json_name = JsonString(NameStr(attribute->attname));
		column->json_key = psprintf("%s:", column->json_name);
		column->encoding = BuildTypeEncoding(attribute->atttypid, CurrentMemoryContext);
		if (column->in_key)
			appendStringInfo(&key_json, "%s%s", key_json.len > 1 ? "," : "", column->json_name);
		appendStringInfo(&types_json, "%s%s", types_json.len > 1 ? "," : "", column->json_key);
		escape_json(&types_json, format_type_with_typemod(attribute->atttypid, attribute->atttypmod));
	}
	appendStringInfoChar(&key_json, ']');
	appendStringInfoChar(&types_json, '}');
	info->key_json = key == nullptr ? nullptr : key_json.data;
	info->types_json = types_json.data;
}

/* Rebuild describes rel afresh in info, in a new memory context. */
void
Rebuild(RelationInfoCache *cache, RelationInfo *info, Relation rel, MemoryContext parent) {
	if (info->context != nullptr)
		MemoryContextDelete(info->context);
	info->context = AllocSetContextCreate(parent, "mostajs relation info", ALLOCSET_SMALL_SIZES);
	info->valid = false;
	info->filter = FilterResult::Unknown;
	uint64 invalidations_before = invalidation_count;
	MemoryContext old_context = MemoryContextSwitchTo(info->context);
	info->reported_relid = ReportedRelid(cache, rel);
	SetNames(info, rel);
	SetColumns(info, rel);
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
		callback_registered = true;
	}
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
