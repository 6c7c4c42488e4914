/*-------------------------------------------------------------------------
 * output_plugin.cpp
 *	  The "mostajs" logical decoding output plugin: one JSON document per
 *	  change, framed by begin and commit documents (docs/protocol.md). In
 *	  format version 3, a relation document describes a table before its
 *	  first change of the session (and after its description changed), and
 *	  row changes carry values only.
 *
 * Regime: PG. The callbacks only call PostgreSQL and our PG-regime writers;
 * no C++ object with a destructor lives in them and nothing throws.
 *
 * Memory stays flat for transactions of any size: each document is built
 * in ctx->out and written before the next change is decoded (or, with
 * batch-bytes, as soon as the batch reaches its budget), and everything a
 * change allocates goes into a context reset after that change.
 *
 * PostgreSQL versions assumed: 15.
 *-------------------------------------------------------------------------
 */
#include "mostajs/compat.hpp"
#include "mostajs/decoding/change_json.hpp"
#include "mostajs/decoding/plugin_options.hpp"
#include "mostajs/decoding/relation_info.hpp"
#include "mostajs/decoding/type_encoding.hpp"

extern "C" {
#include "postgres.h"
#include "common/base64.h"		 /* pg_b64_encode */
#include "common/jsonapi.h"		 /* pg_parse_json, nullSemAction */
#include "mb/pg_wchar.h"		 /* pg_verifymbstr */
#include "replication/logical.h" /* LogicalDecodingContext */
#include "replication/origin.h"	 /* replorigin_by_oid */
#include "replication/output_plugin.h"
#include "utils/hsearch.h"
#include "utils/json.h"		 /* escape_json */
#include "utils/lsyscache.h" /* get_namespace_name */
#include "utils/memutils.h"
#include "utils/rel.h"

PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *callbacks);
}

namespace mostajs {

namespace {

/*
 * PluginState is the plugin's private data of one decoding session.
 * Transactions are decoded one at a time (we do not stream in-progress
 * transactions), so the per-transaction flags can live here.
 */
struct PluginState {
	PluginOptions options;
	MemoryContext change_context; /* reset after every callback that writes */
	RelationInfoCache *relations;
	bool begin_sent;		   /* the current transaction's begin document is out */
	bool batch_open;		   /* ctx->out holds documents not written yet */
	int batch_start;		   /* where our data starts in ctx->out (after the walsender's header) */
	bool document_open;		   /* a document is being written: StartDocument without EndDocument yet */
	int document_start;		   /* where it started in ctx->out, separator included */
	StringInfoData batch_copy; /* FlushBatch's scratch buffer */
	HTAB *sent_relations;	   /* format version 3: reported relid -> SentRelation; else nullptr */
};

/*
 * SentRelation is the relation document this session last sent for one
 * reported relid, so a table's description goes out once per session and
 * again only when it differs. Several entries of the relation cache can
 * describe one reported relid (the partitions of a root, under
 * partition-root, or one table rebuilt after an invalidation that changed
 * nothing), so the document text decides, and build_id, the entry build
 * that last matched it, spares comparing it on every change.
 */
struct SentRelation {
	Oid relid; /* hash key */
	uint64 build_id;
	char *document; /* in the decoding context */
};

PluginState *
StateOf(LogicalDecodingContext *ctx) {
	return static_cast<PluginState *>(ctx->output_plugin_private);
}

/* StartDocument opens a document in ctx->out: a new output message, or the next line of the open batch. */
void
StartDocument(LogicalDecodingContext *ctx, PluginState *state) {
	if (!state->batch_open) {
		OutputPluginPrepareWrite(ctx, true);
		state->batch_open = true;
		state->batch_start = ctx->out->len;
	}
	state->document_open = true;
	state->document_start = ctx->out->len;
	if (ctx->out->len > state->batch_start)
		appendStringInfoChar(ctx->out, '\n');
}

/*
 * DropUnfinishedDocument removes a document that was being written when
 * decoding stopped: PostgreSQL catches the error of a prepared transaction
 * aborted while it is decoded (a catalog lookup fails) and goes on to its
 * prepare callback, which must not write after half a document.
 */
void
DropUnfinishedDocument(LogicalDecodingContext *ctx, PluginState *state) {
	if (!state->document_open)
		return;
	ctx->out->len = state->document_start;
	ctx->out->data[ctx->out->len] = '\0';
	state->document_open = false;
}

/*
 * FlushBatch writes the open output message. A batch was prepared at its
 * first document, so its header (over the replication protocol) carries that
 * document's position; it is prepared again here so that it carries the
 * position of the document that ends it, e.g. the commit's end: a client
 * confirming what it received must not get the last transaction again.
 */
void
FlushBatch(LogicalDecodingContext *ctx, PluginState *state) {
	if (state->options.batch_bytes > 0) {
		resetStringInfo(&state->batch_copy);
		appendBinaryStringInfo(&state->batch_copy, ctx->out->data + state->batch_start,
							   ctx->out->len - state->batch_start);
		OutputPluginPrepareWrite(ctx, true);
		appendBinaryStringInfo(ctx->out, state->batch_copy.data, state->batch_copy.len);
	}
	OutputPluginWrite(ctx, true);
	state->batch_open = false;
}

/* EndDocument writes the output message, unless batching and the batch has room and may go on. */
void
EndDocument(LogicalDecodingContext *ctx, PluginState *state, bool may_continue) {
	state->document_open = false;
	if (may_continue && state->options.batch_bytes > 0 &&
		ctx->out->len - state->batch_start < state->options.batch_bytes)
		return;
	FlushBatch(ctx, state);
}

/* AppendLsnField writes ,"name":"X/X". */
void
AppendLsnField(StringInfo out, const char *name, XLogRecPtr lsn) {
	appendStringInfo(out, ",\"%s\":\"%X/%X\"", name, compat::LsnHigh(lsn), compat::LsnLow(lsn));
}

/* AppendTransactionFields writes the fields the options ask for on begin, commit and prepare documents. */
void
AppendTransactionFields(StringInfo out, const PluginState *state, ReorderBufferTXN *txn, TimestampTz time) {
	if (state->options.include_xids)
		appendStringInfo(out, ",\"xid\":%u", txn->xid);
	if (state->options.include_timestamp) {
		appendStringInfoString(out, ",\"ts\":");
		AppendTimestamptzJson(out, time);
	}
	if (state->options.include_origin && txn->origin_id != InvalidRepOriginId) {
		char *origin = nullptr;
		if (replorigin_by_oid(txn->origin_id, true, &origin)) {
			appendStringInfoString(out, ",\"origin\":");
			escape_json(out, origin);
		}
	}
	if (txn->gid != nullptr) {
		appendStringInfoString(out, ",\"gid\":");
		escape_json(out, txn->gid);
	}
}

/* SendBegin writes the begin document of txn. */
void
SendBegin(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn) {
	StartDocument(ctx, state);
	appendStringInfoString(ctx->out, "{\"op\":\"begin\"");
	AppendTransactionFields(ctx->out, state, txn, txn->xact_time.commit_time);
	if (state->options.include_lsn)
		AppendLsnField(ctx->out, "commit_lsn", txn->final_lsn);
	appendStringInfoChar(ctx->out, '}');
	EndDocument(ctx, state, true);
	state->begin_sent = true;
}

/* EnsureBegin sends the begin document before the first document of a transaction: empty ones cost nothing. */
void
EnsureBegin(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn) {
	if (!state->begin_sent)
		SendBegin(ctx, state, txn);
}

/* StartChangeDocument writes {"op":"<op>" and the per-change fields the options ask for. */
void
StartChangeDocument(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn, const char *op,
					XLogRecPtr lsn) {
	StartDocument(ctx, state);
	appendStringInfo(ctx->out, "{\"op\":\"%s\"", op);
	if (state->options.include_xids && txn != nullptr)
		appendStringInfo(ctx->out, ",\"xid\":%u", txn->xid);
	if (state->options.include_lsn)
		AppendLsnField(ctx->out, "lsn", lsn);
}

/* RelationIncluded looks rel up and applies the table filters, once per table and shape. */
RelationInfo *
IncludedRelation(PluginState *state, Relation rel) {
	RelationInfo *info = GetRelationInfo(state->relations, rel);
	if (info->filter == FilterResult::Unknown)
		info->filter = TableIsIncluded(&state->options, info->schema, info->table) ? FilterResult::Included
																				   : FilterResult::Excluded;
	return info->filter == FilterResult::Included ? info : nullptr;
}

/*
 * EnsureRelationSent writes the relation document of info before a row change
 * of format version 3, unless this session's last relation document for its
 * reported relid is the same.
 */
void
EnsureRelationSent(LogicalDecodingContext *ctx, PluginState *state, const RelationInfo *info) {
	bool found;
	SentRelation *sent =
		static_cast<SentRelation *>(hash_search(state->sent_relations, &info->reported_relid, HASH_ENTER, &found));
	if (!found) {
		sent->build_id = 0;
		sent->document = nullptr;
	}
	if (sent->build_id == info->build_id)
		return;
	if (sent->document == nullptr || strcmp(sent->document, info->relation_json) != 0) {
		StartDocument(ctx, state);
		appendStringInfoString(ctx->out, info->relation_json);
		EndDocument(ctx, state, true);
		if (sent->document != nullptr)
			pfree(sent->document);
		sent->document = MemoryContextStrdup(ctx->context, info->relation_json);
	}
	sent->build_id = info->build_id;
}

/* TupleOf returns the heap tuple of a change's tuple buffer, or nullptr. */
HeapTuple
TupleOf(ReorderBufferTupleBuf *buffer) {
	return buffer != nullptr ? &buffer->tuple : nullptr;
}

/* OnStartup parses the options and sets up memory; is_init is true when the slot is being created. */
void
OnStartup(LogicalDecodingContext *ctx, OutputPluginOptions *output, bool) {
	PluginState *state = static_cast<PluginState *>(MemoryContextAllocZero(ctx->context, sizeof(PluginState)));
	ParsePluginOptions(ctx->output_plugin_options, &state->options);
	state->change_context = AllocSetContextCreate(ctx->context, "mostajs change", ALLOCSET_DEFAULT_SIZES);
	state->relations = CreateRelationInfoCache(ctx->context, state->options.partition_root);
	MemoryContext old_context = MemoryContextSwitchTo(ctx->context);
	initStringInfo(&state->batch_copy);
	MemoryContextSwitchTo(old_context);
	if (state->options.format_version >= kRelationDocumentVersion) {
		HASHCTL hash_control;
		hash_control.keysize = sizeof(Oid);
		hash_control.entrysize = sizeof(SentRelation);
		hash_control.hcxt = ctx->context;
		state->sent_relations =
			hash_create("mostajs sent relations", 64, &hash_control, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	ctx->output_plugin_private = state;
	output->output_type = OUTPUT_PLUGIN_TEXTUAL_OUTPUT;
	output->receive_rewrites = false;
}

/* OnBegin only notes a new transaction; its begin document waits for its first change. */
void
OnBegin(LogicalDecodingContext *ctx, ReorderBufferTXN *) {
	StateOf(ctx)->begin_sent = false;
}

/* OnChange writes one insert, update or delete. */
void
OnChange(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, Relation rel, ReorderBufferChange *change) {
	PluginState *state = StateOf(ctx);
	MemoryContext old_context = MemoryContextSwitchTo(state->change_context);
	RelationInfo *info = IncludedRelation(state, rel);
	RowOp op = RowOp::Insert;
	if (change->action == REORDER_BUFFER_CHANGE_UPDATE)
		op = RowOp::Update;
	else if (change->action == REORDER_BUFFER_CHANGE_DELETE)
		op = RowOp::Delete;
	else if (change->action != REORDER_BUFFER_CHANGE_INSERT)
		info = nullptr; /* not a row change we know: nothing to write */
	if (info != nullptr) {
		EnsureBegin(ctx, state, txn);
		HeapTuple new_tuple = op == RowOp::Delete ? nullptr : TupleOf(change->data.tp.newtuple);
		HeapTuple old_tuple = op == RowOp::Insert ? nullptr : TupleOf(change->data.tp.oldtuple);
		if (state->sent_relations != nullptr) {
			EnsureRelationSent(ctx, state, info);
			StartChangeDocument(ctx, state, txn, RowOpName(op), change->lsn);
			appendStringInfoChar(ctx->out, ',');
			AppendRowChangeValues(ctx->out, info, RelationGetDescr(rel), new_tuple, old_tuple,
								  state->options.format_version);
		} else {
			StartChangeDocument(ctx, state, txn, RowOpName(op), change->lsn);
			appendStringInfoChar(ctx->out, ',');
			AppendRowChangeBody(ctx->out, info, RelationGetDescr(rel), new_tuple, old_tuple,
								state->options.include_types, state->options.format_version);
		}
		EndDocument(ctx, state, true);
	}
	MemoryContextSwitchTo(old_context);
	MemoryContextReset(state->change_context);
}

/* Truncated tells whether relid is among the relations of a TRUNCATE. */
bool
Truncated(Oid relid, int count, Relation relations[]) {
	for (int i = 0; i < count; i++)
		if (RelationGetRelid(relations[i]) == relid)
			return true;
	return false;
}

/*
 * AppendTruncatedTable adds one table of a TRUNCATE to the list. Under
 * partition-root, a partition whose root is truncated too is covered by the
 * root; one truncated alone is listed under its root (the table a consumer
 * holds its rows in, and the name filtered on) with the partition named in
 * "partition": only that partition's rows are gone.
 */
void
AppendTruncatedTable(StringInfo tables, PluginState *state, Relation rel, int count, Relation relations[]) {
	RelationInfo *info = IncludedRelation(state, rel);
	if (info == nullptr)
		return;
	if (info->reported_relid != info->relid && Truncated(info->reported_relid, count, relations))
		return;
	appendStringInfo(tables, "%s{%s", tables->len > 0 ? "," : "", info->names_json);
	if (info->reported_relid != info->relid)
		appendStringInfo(tables, ",\"partition\":{\"schema\":%s,\"table\":%s}",
						 JsonString(get_namespace_name(RelationGetNamespace(rel))),
						 JsonString(RelationGetRelationName(rel)));
	appendStringInfoChar(tables, '}');
}

/* OnTruncate writes one truncate document for the included tables of a TRUNCATE. */
void
OnTruncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, int count, Relation relations[],
		   ReorderBufferChange *change) {
	PluginState *state = StateOf(ctx);
	MemoryContext old_context = MemoryContextSwitchTo(state->change_context);
	StringInfoData tables;
	initStringInfo(&tables);
	for (int i = 0; i < count; i++)
		AppendTruncatedTable(&tables, state, relations[i], count, relations);
	if (tables.len > 0) {
		EnsureBegin(ctx, state, txn);
		StartChangeDocument(ctx, state, txn, "truncate", change->lsn);
		appendStringInfo(ctx->out, ",\"tables\":[%s],\"cascade\":%s,\"restart_identity\":%s}", tables.data,
						 change->data.truncate.cascade ? "true" : "false",
						 change->data.truncate.restart_seqs ? "true" : "false");
		EndDocument(ctx, state, true);
	}
	MemoryContextSwitchTo(old_context);
	MemoryContextReset(state->change_context);
}

/* SendEnd writes a commit or prepare document and flushes the batch. */
void
SendEnd(LogicalDecodingContext *ctx, PluginState *state, ReorderBufferTXN *txn, const char *op, XLogRecPtr lsn,
		TimestampTz time) {
	DropUnfinishedDocument(ctx, state);
	StartDocument(ctx, state);
	appendStringInfo(ctx->out, "{\"op\":\"%s\"", op);
	AppendTransactionFields(ctx->out, state, txn, time);
	if (state->options.include_lsn) {
		AppendLsnField(ctx->out, "lsn", lsn);
		AppendLsnField(ctx->out, "end_lsn", txn->end_lsn);
	}
	appendStringInfoChar(ctx->out, '}');
	EndDocument(ctx, state, false);
}

/* OnCommit writes the commit document of a transaction that wrote anything. */
void
OnCommit(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn) {
	PluginState *state = StateOf(ctx);
	if (state->begin_sent)
		SendEnd(ctx, state, txn, "commit", commit_lsn, txn->xact_time.commit_time);
	state->begin_sent = false;
}

/* IsJson tells whether text is one valid JSON value. */
bool
IsJson(char *text, Size size) {
	JsonLexContext *lexer = makeJsonLexContextCstringLen(text, static_cast<int>(size), GetDatabaseEncoding(), false);
	return pg_parse_json(lexer, &nullSemAction) == JSON_SUCCESS;
}

/*
 * AppendMessageContent writes a logical message's content: embedded when a
 * mostajs.* message holds valid JSON (the DDL event trigger, heartbeats),
 * else a string, or base64 when it is not text in the database encoding.
 */
void
AppendMessageContent(StringInfo out, const char *prefix, Size size, const char *content) {
	char *text = pnstrdup(content, size);
	bool is_text = strlen(text) == size && pg_verifymbstr(text, static_cast<int>(size), true);
	if (is_text && strncmp(prefix, "mostajs.", 8) == 0 && IsJson(text, size)) {
		/* newlines in valid JSON are whitespace: fold them so the document stays one line */
		for (char *p = text; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		appendStringInfo(out, ",\"content\":%s}", text);
		return;
	}
	if (is_text) {
		appendStringInfoString(out, ",\"content\":");
		escape_json(out, text);
		appendStringInfoChar(out, '}');
		return;
	}
	appendStringInfoString(out, ",\"encoding\":\"base64\",\"content\":\"");
	enlargeStringInfo(out, pg_b64_enc_len(static_cast<int>(size)) + 3);
	out->len += pg_b64_encode(content, static_cast<int>(size), out->data + out->len, out->maxlen - out->len);
	appendStringInfoString(out, "\"}");
}

/* OnMessage writes a logical message (pg_logical_emit_message) that passes the message filters. */
void
OnMessage(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr lsn, bool transactional, const char *prefix,
		  Size size, const char *content) {
	PluginState *state = StateOf(ctx);
	if (!MessageIsIncluded(&state->options, prefix))
		return;
	MemoryContext old_context = MemoryContextSwitchTo(state->change_context);
	if (transactional)
		EnsureBegin(ctx, state, txn);
	StartChangeDocument(ctx, state, transactional ? txn : nullptr, "message", lsn);
	appendStringInfo(ctx->out, ",\"transactional\":%s,\"prefix\":", transactional ? "true" : "false");
	escape_json(ctx->out, prefix);
	AppendMessageContent(ctx->out, prefix, size, content);
	/* a non-transactional message is not part of any batch: write it now */
	EndDocument(ctx, state, transactional);
	MemoryContextSwitchTo(old_context);
	MemoryContextReset(state->change_context);
}

/* OnFilterByOrigin skips changes replayed from elsewhere when only-local is set (loop prevention). */
bool
OnFilterByOrigin(LogicalDecodingContext *ctx, RepOriginId origin_id) {
	return StateOf(ctx)->options.only_local && origin_id != InvalidRepOriginId;
}

/* OnBeginPrepare writes the begin document of a prepared transaction at once: its end arrives in another pass. */
void
OnBeginPrepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn) {
	SendBegin(ctx, StateOf(ctx), txn);
}

/* OnPrepare writes the prepare document. */
void
OnPrepare(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr prepare_lsn) {
	PluginState *state = StateOf(ctx);
	SendEnd(ctx, state, txn, "prepare", prepare_lsn, txn->xact_time.prepare_time);
	state->begin_sent = false;
}

/* OnCommitPrepared writes the commit_prepared document. */
void
OnCommitPrepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr commit_lsn) {
	SendEnd(ctx, StateOf(ctx), txn, "commit_prepared", commit_lsn, txn->xact_time.commit_time);
}

/* OnRollbackPrepared writes the rollback_prepared document, with the position and time of the rollback. */
void
OnRollbackPrepared(LogicalDecodingContext *ctx, ReorderBufferTXN *txn, XLogRecPtr, TimestampTz) {
	SendEnd(ctx, StateOf(ctx), txn, "rollback_prepared", txn->final_lsn, txn->xact_time.commit_time);
}

/* OnShutdown has nothing to free: our contexts are children of the decoding context. */
void
OnShutdown(LogicalDecodingContext *) {}

} // namespace

} // namespace mostajs

/* _PG_output_plugin_init registers the callbacks of the mostajs plugin. */
extern "C" void
_PG_output_plugin_init(OutputPluginCallbacks *callbacks) {
	callbacks->startup_cb = mostajs::OnStartup;
	callbacks->begin_cb = mostajs::OnBegin;
	callbacks->change_cb = mostajs::OnChange;
	callbacks->truncate_cb = mostajs::OnTruncate;
	callbacks->commit_cb = mostajs::OnCommit;
	callbacks->message_cb = mostajs::OnMessage;
	callbacks->filter_by_origin_cb = mostajs::OnFilterByOrigin;
	callbacks->shutdown_cb = mostajs::OnShutdown;
	callbacks->begin_prepare_cb = mostajs::OnBeginPrepare;
	callbacks->prepare_cb = mostajs::OnPrepare;
	callbacks->commit_prepared_cb = mostajs::OnCommitPrepared;
	callbacks->rollback_prepared_cb = mostajs::OnRollbackPrepared;
}
