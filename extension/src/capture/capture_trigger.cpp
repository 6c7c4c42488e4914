/*-------------------------------------------------------------------------
 * capture_trigger.cpp
 *	  mosta.capture_trigger(): the row and TRUNCATE trigger that
 *	  mosta_capture_table() installs. It writes each change of a captured
 *	  table into mosta.change_log as the same JSON document the output
 *	  plugin streams (docs/protocol.md, docs/capture.md).
 *
 * Regime: PG, shaped as contrib/tcn/tcn.c: validate the call context, build
 * the document, write it, return NULL (an AFTER trigger's result is
 * ignored). No C++ object lives in any function here.
 *
 * Memory: AFTER triggers run in a per-event context the trigger manager
 * resets before each call (AfterTriggerExecute), so the document and the
 * detoasted copies need no freeing. Table descriptions live in a backend-wide RelationInfoCache,
 * rebuilt by the relcache callback after DDL on a table.
 *
 * PostgreSQL versions assumed: 15.
 *-------------------------------------------------------------------------
 */
#include "mostajs/capture/change_log_writer.hpp"
#include "mostajs/decoding/change_json.hpp"
#include "mostajs/decoding/relation_info.hpp"

extern "C" {
#include "postgres.h"
#include "access/detoast.h"		 /* detoast_external_attr */
#include "access/heaptoast.h"	 /* toast_flatten_tuple */
#include "access/htup_details.h" /* heap_deform_tuple, heap_form_tuple, HeapTupleHasExternal */
#include "commands/trigger.h"	 /* TriggerData, CALLED_AS_TRIGGER, TRIGGER_FIRED_* */
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h" /* TopMemoryContext */
#include "utils/rel.h"

PG_FUNCTION_INFO_V1(mostajs_capture_trigger);
}

namespace mostajs {

namespace {

/*
 * mosta.change_log holds format-version 1 documents, what its readers got
 * since 0.1 (it has no option to ask for another); docs/capture.md says what
 * that version cannot tell apart (a json value null from SQL NULL).
 */
constexpr int kChangeLogFormatVersion = 1;

/* CheckCallContext raises unless the trigger manager fires us AFTER a row change or a TRUNCATE. */
void
CheckCallContext(FunctionCallInfo fcinfo) {
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("mosta.capture_trigger: must be called as trigger")));
	TriggerData *data = reinterpret_cast<TriggerData *>(fcinfo->context);
	if (!TRIGGER_FIRED_AFTER(data->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("mosta.capture_trigger: must be called after the change"),
						errhint("Capture tables with mosta_capture_table() rather than creating the trigger.")));
	if (TRIGGER_FIRED_FOR_STATEMENT(data->tg_event) && !TRIGGER_FIRED_BY_TRUNCATE(data->tg_event))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("mosta.capture_trigger: must be called for each row, or for TRUNCATE"),
						errhint("Capture tables with mosta_capture_table() rather than creating the trigger.")));
}

/*
 * IdentityTuple returns the replica identity's columns of an old row, with
 * their values fetched from TOAST, and NULL for every other column: what
 * the WAL carries for the old row, which is all the writer writes of it.
 * Large values outside the identity are never fetched.
 */
HeapTuple
IdentityTuple(HeapTuple tuple, TupleDesc desc, const RelationInfo *info) {
	Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * desc->natts));
	bool *nulls = static_cast<bool *>(palloc(sizeof(bool) * desc->natts));
	heap_deform_tuple(tuple, desc, values, nulls);
	bool *keep = static_cast<bool *>(palloc0(sizeof(bool) * desc->natts));
	for (int i = 0; i < info->column_count; i++)
		keep[info->columns[i].attnum - 1] = info->columns[i].in_identity;
	for (int i = 0; i < desc->natts; i++) {
		if (!keep[i] || nulls[i]) {
			nulls[i] = true;
			continue;
		}
		if (TupleDescAttr(desc, i)->attlen == -1 && VARATT_IS_EXTERNAL(DatumGetPointer(values[i])))
			values[i] = PointerGetDatum(detoast_external_attr(reinterpret_cast<varlena *>(DatumGetPointer(values[i]))));
	}
	return heap_form_tuple(desc, values, nulls);
}

/*
 * CompleteTuple returns tuple with every value the writer will write held
 * inline. A trigger's tuple is the stored row, so its toasted values are
 * pointers into the TOAST table (an update's unchanged ones included); the
 * writer would list such a value as "unchanged", as it must for WAL, where
 * the value is really absent. Here the value exists, so it is fetched and
 * every column of a new row is written.
 */
HeapTuple
CompleteTuple(HeapTuple tuple, TupleDesc desc, const RelationInfo *info, bool old_row) {
	if (tuple == nullptr || !HeapTupleHasExternal(tuple))
		return tuple;
	if (old_row && !info->identity_full)
		return IdentityTuple(tuple, desc, info);
	return toast_flatten_tuple(tuple, desc);
}

/* RowChangeDocument returns the document of a row change as a text varlena. */
text *
RowChangeDocument(TriggerData *data) {
	Relation rel = data->tg_relation;
	TupleDesc desc = RelationGetDescr(rel);
	RelationInfo *info = GetRelationInfo(BackendRelationInfoCache(), rel);
	RowOp op;
	HeapTuple new_tuple = nullptr;
	HeapTuple old_tuple = nullptr;
	if (TRIGGER_FIRED_BY_INSERT(data->tg_event)) {
		op = RowOp::Insert;
		new_tuple = data->tg_trigtuple;
	} else if (TRIGGER_FIRED_BY_UPDATE(data->tg_event)) {
		op = RowOp::Update;
		new_tuple = data->tg_newtuple;
		old_tuple = data->tg_trigtuple;
	} else if (TRIGGER_FIRED_BY_DELETE(data->tg_event)) {
		op = RowOp::Delete;
		old_tuple = data->tg_trigtuple;
	} else {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("mosta.capture_trigger: must be called for INSERT, UPDATE, DELETE or TRUNCATE")));
	}

	StringInfoData document;
	initStringInfo(&document);
	appendStringInfoSpaces(&document, VARHDRSZ); /* the text header, set below */
	appendStringInfoString(&document, "{\"op\":\"");
	appendStringInfoString(&document, RowOpName(op));
	appendStringInfoString(&document, "\",");
	AppendRowChangeBody(&document, info, desc, CompleteTuple(new_tuple, desc, info, false),
						CompleteTuple(old_tuple, desc, info, true), false, kChangeLogFormatVersion);
	SET_VARSIZE(document.data, document.len);
	return reinterpret_cast<text *>(document.data);
}

/*
 * TruncateDocument returns the document of a TRUNCATE of the trigger's
 * table. A statement trigger is told neither CASCADE nor RESTART IDENTITY,
 * so both are written false; each truncated captured table gets its own
 * document (docs/capture.md).
 */
text *
TruncateDocument(TriggerData *data) {
	RelationInfo *info = GetRelationInfo(BackendRelationInfoCache(), data->tg_relation);
	StringInfoData document;
	initStringInfo(&document);
	appendStringInfoSpaces(&document, VARHDRSZ);
	appendStringInfo(&document, "{\"op\":\"truncate\",\"tables\":[{%s}],\"cascade\":false,\"restart_identity\":false}",
					 info->names_json);
	SET_VARSIZE(document.data, document.len);
	return reinterpret_cast<text *>(document.data);
}

} // namespace

} // namespace mostajs

/* mostajs_capture_trigger is mosta.capture_trigger() → trigger. */
extern "C" Datum
mostajs_capture_trigger(PG_FUNCTION_ARGS) {
	mostajs::CheckCallContext(fcinfo);
	TriggerData *data = reinterpret_cast<TriggerData *>(fcinfo->context);
	text *document =
		TRIGGER_FIRED_BY_TRUNCATE(data->tg_event) ? mostajs::TruncateDocument(data) : mostajs::RowChangeDocument(data);
	mostajs::AppendChangeLogRow(RelationGetRelid(data->tg_relation), document);
	return PointerGetDatum(nullptr);
}
