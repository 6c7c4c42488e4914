/*-------------------------------------------------------------------------
 * change_log_writer.cpp
 *	  Appends change documents to mosta.change_log.
 *
 * Regime: PG. Nothing here holds a C++ object; every call may raise.
 *
 * Two ways in, writing the same row (seq from mosta.change_log_seq, the
 * top-level xid, clock_timestamp(), relid, the document):
 *
 *  - Direct: heap_insert plus one index_insert per index, as the executor
 *    does for a table without triggers, constraints, row security or index
 *    expressions. This is the common path: an INSERT through SPI costs
 *    about 5 us per row (executor start and end, relation and index opens),
 *    four times the rest of the trigger, and as much as a whole naive
 *    PL/pgSQL to_jsonb trigger; docs/capture.md has the numbers.
 *  - SPI: one INSERT plan prepared per backend (SPI_prepare + SPI_keepplan),
 *    used when an administrator gave the log anything the direct path does
 *    not reproduce (a trigger, a CHECK, a partial or expression index), so
 *    the table's definition is always honoured.
 *
 * Neither path checks the privileges of the user whose change fired the
 * trigger: the log is the extension's own table, and that user needs no
 * privilege on it (and so cannot forge entries). The SPI path runs its
 * INSERT as the log's owner, the way ri_triggers.c runs its checks; an
 * ERROR between the two user switches needs no cleanup, as aborting the
 * (sub)transaction restores the user id.
 *
 * PostgreSQL versions assumed: 15.
 *-------------------------------------------------------------------------
 */
#include "mostajs/capture/change_log_writer.hpp"

extern "C" {
#include "postgres.h"
#include "access/genam.h"		 /* index_open, index_insert, index_close */
#include "access/heapam.h"		 /* heap_insert */
#include "access/htup_details.h" /* heap_form_tuple */
#include "access/table.h"		 /* try_table_open, table_close */
#include "access/xact.h"		 /* GetTopFullTransactionId, GetCurrentCommandId */
#include "catalog/index.h"		 /* BuildIndexInfo */
#include "catalog/namespace.h"	 /* get_namespace_oid */
#include "catalog/pg_type.h"	 /* OIDOID, JSONOID, ... */
#include "commands/sequence.h"	 /* nextval_internal */
#include "executor/spi.h"
#include "miscadmin.h"		 /* GetUserIdAndSecContext, SetUserIdAndSecContext */
#include "nodes/execnodes.h" /* IndexInfo */
#include "utils/inval.h"	 /* CacheRegisterRelcacheCallback */
#include "utils/lsyscache.h" /* get_relname_relid */
#include "utils/rel.h"
#include "utils/timestamp.h" /* GetCurrentTimestamp */
#include "utils/xid8.h"		 /* FullTransactionIdGetDatum */
}

namespace mostajs {

namespace {

constexpr const char *kLogSchema = "mosta";
constexpr const char *kLogTable = "change_log";
constexpr const char *kLogSequence = "change_log_seq";
constexpr const char *kInsertSql = "INSERT INTO mosta.change_log (relid, change) VALUES ($1, $2)";

/* The columns of mosta.change_log, in order, as the direct path writes them. */
enum LogColumn { kSeq, kXid, kCapturedAt, kRelid, kChange, kLogColumnCount };
constexpr Oid kLogColumnTypes[kLogColumnCount] = {INT8OID, XID8OID, TIMESTAMPTZOID, OIDOID, JSONOID};

/*
 * The OIDs of the log and its sequence as last resolved. They are trusted
 * until a relcache invalidation names either (or all relations): dropping
 * them, as DROP EXTENSION does, sends one, and only then can an OID be
 * reused. This saves five syscache lookups per captured row.
 */
Oid log_relid = InvalidOid;
Oid sequence_relid = InvalidOid;
bool log_oids_valid = false;
bool invalidation_callback_registered = false;

/*
 * The plan lives in CacheMemoryContext (SPI_keepplan) for the backend's
 * life; the plan cache re-plans it after DDL on the log, so it survives
 * even a DROP and CREATE EXTENSION in this session.
 */
SPIPlanPtr insert_plan = nullptr;

/* ForgetLogOids is a relcache callback: the log or its sequence may have been dropped. */
void
ForgetLogOids(Datum, Oid relid) {
	if (!OidIsValid(relid) || relid == log_relid || relid == sequence_relid)
		log_oids_valid = false;
}

/* ResolveLogOids looks the log and its sequence up by name; false when either does not exist. */
bool
ResolveLogOids() {
	if (!invalidation_callback_registered) {
		CacheRegisterRelcacheCallback(ForgetLogOids, 0);
		invalidation_callback_registered = true;
	}
	Oid namespace_oid = get_namespace_oid(kLogSchema, true);
	log_relid = OidIsValid(namespace_oid) ? get_relname_relid(kLogTable, namespace_oid) : InvalidOid;
	sequence_relid = OidIsValid(namespace_oid) ? get_relname_relid(kLogSequence, namespace_oid) : InvalidOid;
	log_oids_valid = OidIsValid(log_relid) && OidIsValid(sequence_relid);
	return log_oids_valid;
}

/* OpenCachedLog opens log_relid if it still is mosta.change_log, else returns nullptr. */
Relation
OpenCachedLog() {
	/* locking processes pending invalidations: the relation may turn out to be gone, or another one */
	Relation rel = try_table_open(log_relid, RowExclusiveLock);
	if (rel != nullptr && strcmp(RelationGetRelationName(rel), kLogTable) != 0) {
		table_close(rel, RowExclusiveLock);
		rel = nullptr;
	}
	return rel;
}

/* OpenLog opens mosta.change_log with RowExclusiveLock. */
Relation
OpenLog() {
	Relation rel = log_oids_valid ? OpenCachedLog() : nullptr;
	if (rel == nullptr && ResolveLogOids())
		rel = OpenCachedLog();
	if (rel == nullptr)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
		                errmsg("relation \"%s.%s\" does not exist", kLogSchema, kLogTable),
		                errdetail("Trigger capture writes every change of a captured table there."),
		                errhint("Install the extension with CREATE EXTENSION mostajs, or drop the capture "
		                        "triggers with mosta_uncapture_table().")));
	return rel;
}

/*
 * HasPlainShape tells whether the log is a plain table with exactly the
 * columns the direct path writes, and nothing the executor would have to
 * apply on an INSERT: no trigger (foreign keys are triggers), rule, CHECK
 * or row security. (The defaults of seq, xid and captured_at are the
 * extension's: InsertDirectly computes the same values.)
 */
bool
HasPlainShape(Relation rel) {
	TupleDesc desc = RelationGetDescr(rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->trigdesc != nullptr || rel->rd_rules != nullptr ||
	    rel->rd_rel->relrowsecurity || desc->natts != kLogColumnCount ||
	    (desc->constr != nullptr && desc->constr->num_check > 0))
		return false;
	for (int i = 0; i < kLogColumnCount; i++) {
		Form_pg_attribute attribute = TupleDescAttr(desc, i);
		if (attribute->attisdropped || attribute->atttypid != kLogColumnTypes[i])
			return false;
	}
	return true;
}

/* LogIndexes is the log's open indexes, with what inserting into each needs. */
struct LogIndexes {
	int count;
	Relation *indexes;
	IndexInfo **infos;
};

/*
 * OpenPlainIndexes opens the log's indexes and returns true when each is
 * a ready, immediate, non-exclusion index on plain columns, which the
 * direct path can fill; otherwise it closes them and returns false.
 */
bool
OpenPlainIndexes(Relation rel, LogIndexes *out) {
	List *index_oids = RelationGetIndexList(rel);
	out->count = 0;
	out->indexes = static_cast<Relation *>(palloc(sizeof(Relation) * (list_length(index_oids) + 1)));
	out->infos = static_cast<IndexInfo **>(palloc(sizeof(IndexInfo *) * (list_length(index_oids) + 1)));
	bool plain = true;
	ListCell *cell;
	foreach (cell, index_oids) {
		Relation index = index_open(lfirst_oid(cell), RowExclusiveLock);
		IndexInfo *info = BuildIndexInfo(index);
		out->indexes[out->count] = index;
		out->infos[out->count++] = info;
		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL || info->ii_ExclusionOps != nullptr ||
		    !info->ii_ReadyForInserts || !index->rd_index->indimmediate)
			plain = false;
	}
	list_free(index_oids);
	if (!plain) {
		for (int i = 0; i < out->count; i++)
			index_close(out->indexes[i], NoLock);
	}
	return plain;
}

/* InsertDirectly writes the row with heap_insert and an index_insert per index, then closes the indexes. */
void
InsertDirectly(Relation rel, const LogIndexes &indexes, Oid relid, text *document) {
	Datum values[kLogColumnCount];
	bool nulls[kLogColumnCount] = {false, false, false, false, false};
	values[kSeq] = Int64GetDatum(nextval_internal(sequence_relid, false));
	values[kXid] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[kCapturedAt] = TimestampTzGetDatum(GetCurrentTimestamp()); /* clock_timestamp() */
	values[kRelid] = ObjectIdGetDatum(relid);
	values[kChange] = PointerGetDatum(document); /* json's internal form is its text: never parsed */
	HeapTuple tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	heap_insert(rel, tuple, GetCurrentCommandId(true), 0, nullptr);

	for (int i = 0; i < indexes.count; i++) {
		IndexInfo *info = indexes.infos[i];
		Datum key_values[INDEX_MAX_KEYS];
		bool key_nulls[INDEX_MAX_KEYS];
		/* plain columns only (OpenPlainIndexes checked): PostgreSQL indexes no system column */
		for (int k = 0; k < info->ii_NumIndexAttrs; k++) {
			AttrNumber column = info->ii_IndexAttrNumbers[k];
			Assert(column > 0 && column <= kLogColumnCount);
			key_values[k] = values[column - 1];
			key_nulls[k] = false;
		}
		Relation index = indexes.indexes[i];
		index_insert(index, key_values, key_nulls, &tuple->t_self, rel,
		             index->rd_index->indisunique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, info);
		index_close(index, NoLock);
	}
}

/* InsertPlan returns the backend's saved INSERT plan, preparing it on first use (inside SPI). */
SPIPlanPtr
InsertPlan() {
	if (insert_plan != nullptr)
		return insert_plan;
	Oid argument_types[2] = {OIDOID, JSONOID};
	SPIPlanPtr plan = SPI_prepare(kInsertSql, 2, argument_types);
	if (plan == nullptr)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", kInsertSql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	insert_plan = plan;
	return plan;
}

/* InsertThroughSpi runs the saved INSERT plan as owner, so the table's own defaults, triggers and checks apply. */
void
InsertThroughSpi(Oid owner, Oid relid, text *document) {
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPIPlanPtr plan = InsertPlan();
	Datum values[2] = {ObjectIdGetDatum(relid), PointerGetDatum(document)};
	Oid saved_user;
	int saved_security_context;
	GetUserIdAndSecContext(&saved_user, &saved_security_context);
	SetUserIdAndSecContext(owner, saved_security_context | SECURITY_LOCAL_USERID_CHANGE |
	                                  SECURITY_RESTRICTED_OPERATION);
	int result = SPI_execute_plan(plan, values, nullptr, false, 0);
	SetUserIdAndSecContext(saved_user, saved_security_context);
	if (result != SPI_OK_INSERT)
		elog(ERROR, "inserting into mosta.change_log failed: %s", SPI_result_code_string(result));
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

} // namespace

void
AppendChangeLogRow(Oid relid, text *document) {
	Relation rel = OpenLog();
	LogIndexes indexes;
	if (HasPlainShape(rel) && OpenPlainIndexes(rel, &indexes)) {
		InsertDirectly(rel, indexes, relid, document);
		table_close(rel, NoLock); /* locks are kept to the end of the transaction, as the executor does */
		return;
	}
	Oid owner = rel->rd_rel->relowner;
	table_close(rel, NoLock);
	InsertThroughSpi(owner, relid, document);
}

} // namespace mostajs
