/*-------------------------------------------------------------------------
 * snapshot_documents.cpp
 *	  mosta.snapshot_documents(tbl regclass, include_types boolean,
 *	  partition_root boolean, format_version integer): every
 *	  row of a table, as of the transaction's snapshot, as an insert
 *	  document of the change stream. The sidecar runs it under a slot's
 *	  exported snapshot for the initial copy, so the copy and the stream that
 *	  follows it are written by the same code, value for value.
 *
 * Regime: PG. No C++ object lives here.
 *
 * The function reads the heap directly, so it checks what the executor
 * would: SELECT privilege on the table, and no row-level security in force
 * for the caller (a copy that silently skipped rows would look complete).
 * A partitioned table yields the rows of its leaf partitions, each under
 * the leaf's name, as the stream reports them by default; with
 * partition_root, each under the top-most root's name, columns and key, as
 * the stream reports them with the plugin's partition-root option (what the
 * sidecar reads).
 *-------------------------------------------------------------------------
 */
#include "mostajs/catalog/internal_tables.hpp"
#include "mostajs/decoding/change_json.hpp"
#include "mostajs/decoding/relation_info.hpp"

extern "C" {
#include "postgres.h"
#include "access/heapam.h"		 /* heap_getnext */
#include "access/heaptoast.h"	 /* toast_flatten_tuple */
#include "access/table.h"		 /* table_open, table_close */
#include "access/tableam.h"		 /* table_beginscan, table_endscan */
#include "catalog/pg_am.h"		 /* HEAP_TABLE_AM_OID */
#include "catalog/pg_inherits.h" /* find_all_inheritors */
#include "funcapi.h"			 /* InitMaterializedSRF */
#include "miscadmin.h"			 /* GetUserId, CHECK_FOR_INTERRUPTS */
#include "utils/acl.h"			 /* pg_class_aclcheck, aclcheck_error */
#include "utils/builtins.h"		 /* cstring_to_text_with_len */
#include "utils/lsyscache.h"	 /* get_rel_name, get_rel_relkind */
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"	   /* check_enable_rls */
#include "utils/snapmgr.h" /* GetActiveSnapshot */

PG_FUNCTION_INFO_V1(mostajs_snapshot_documents);
}

namespace mostajs {

namespace {

/* CheckReadable raises unless the caller may read every row of relid. */
void
CheckReadable(Oid relid) {
	AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, get_relkind_objtype(get_rel_relkind(relid)), get_rel_name(relid));
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						errmsg("row-level security is enabled for table \"%s\"", get_rel_name(relid)),
						errdetail("A snapshot copy must see every row."),
						errhint("Copy as the table's owner or as a role with BYPASSRLS.")));
}

/* CopyTable writes one insert document per row of a plain table into the result set. */
void
CopyTable(ReturnSetInfo *result, Oid relid, bool include_types, bool partition_root, int format_version,
		  MemoryContext row_context) {
	Relation rel = table_open(relid, AccessShareLock);
	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("table \"%s\" does not use the heap access method", RelationGetRelationName(rel))));
	RelationInfo *info = GetRelationInfo(BackendRelationInfoCache(partition_root), rel);
	TupleDesc desc = RelationGetDescr(rel);
	TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, nullptr);
	StringInfoData document;
	initStringInfo(&document);
	while (HeapTuple tuple = heap_getnext(scan, ForwardScanDirection)) {
		CHECK_FOR_INTERRUPTS();
		MemoryContext old_context = MemoryContextSwitchTo(row_context);
		resetStringInfo(&document);
		appendStringInfoString(&document, "{\"op\":\"insert\",");
		/* values stored out of line must be written, not listed as unchanged */
		AppendRowChangeBody(&document, info, desc, toast_flatten_tuple(tuple, desc), nullptr, include_types,
							format_version);
		Datum value = PointerGetDatum(cstring_to_text_with_len(document.data, document.len));
		bool is_null = false;
		tuplestore_putvalues(result->setResult, result->setDesc, &value, &is_null);
		MemoryContextSwitchTo(old_context);
		MemoryContextReset(row_context);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
}

} // namespace

} // namespace mostajs

/* mostajs_snapshot_documents is mosta.snapshot_documents(tbl regclass, include_types boolean, partition_root boolean,
 * format_version integer) → setof text. */
extern "C" Datum
mostajs_snapshot_documents(PG_FUNCTION_ARGS) {
	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("argument \"tbl\" must not be null"),
						errhint("Pass a value for tbl.")));
	Oid relid = PG_GETARG_OID(0);
	bool include_types = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
	bool partition_root = PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	int format_version = PG_NARGS() < 4 || PG_ARGISNULL(3) ? mostajs::kMinFormatVersion : PG_GETARG_INT32(3);
	/* version 3 moves the table's description into relation documents; a copy's documents describe themselves */
	constexpr int kMaxCopyFormatVersion = mostajs::kRelationDocumentVersion - 1;
	if (format_version == mostajs::kRelationDocumentVersion)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("format version %d is not supported", format_version),
				 errdetail("A snapshot copy writes self-describing insert documents, one per row, with no relation "
						   "documents."),
				 errhint("Pass format_version => %d: its values are encoded as in version %d.", kMaxCopyFormatVersion,
						 format_version)));
	if (format_version < mostajs::kMinFormatVersion || format_version > kMaxCopyFormatVersion)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("format version %d is not supported", format_version),
				 errhint("Use a format version from %d to %d (docs/protocol.md, \"Versioning\").",
						 mostajs::kMinFormatVersion, kMaxCopyFormatVersion)));
	char relkind = get_rel_relkind(relid);
	if (relkind == '\0')
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid),
						errhint("Pass an existing table, e.g. 'public.orders'::regclass.")));
	/* a rule stored before this check, or restored by pg_dump, must not copy credentials out */
	if (mostajs::IsInternalRelation(relid))
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is a table of mostajs", get_rel_name(relid)),
						errdetail("The extension's catalog holds replica credentials and status: it is never copied."),
						errhint("Collections must be tables of your own schemas.")));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE), errmsg("\"%s\" is not a table", get_rel_name(relid)),
						errhint("Snapshots copy ordinary and partitioned tables.")));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	ReturnSetInfo *result = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	MemoryContext row_context =
		AllocSetContextCreate(CurrentMemoryContext, "mostajs snapshot row", ALLOCSET_DEFAULT_SIZES);
	/* a partitioned table: its leaves, each checked and copied under its own name */
	List *tables = relkind == RELKIND_PARTITIONED_TABLE ? find_all_inheritors(relid, AccessShareLock, nullptr)
														: list_make1_oid(relid);
	ListCell *cell;
	foreach (cell, tables) {
		Oid table = lfirst_oid(cell);
		if (get_rel_relkind(table) != RELKIND_RELATION)
			continue;
		mostajs::CheckReadable(table);
		mostajs::CopyTable(result, table, include_types, partition_root, format_version, row_context);
	}
	MemoryContextDelete(row_context);
	return static_cast<Datum>(0);
}
