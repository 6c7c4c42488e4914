/*-------------------------------------------------------------------------
 * heartbeat.cpp
 *	  mosta_heartbeat(): a small non-transactional logical message,
 *	  flushed at once, so that a slot on a quiet database has something to
 *	  decode and confirm, and keeps advancing instead of pinning WAL.
 *
 * Regime: PG. No C++ object lives here.
 *
 * Why C and not pg_logical_emit_message() from SQL: on PostgreSQL 15 that
 * function writes a non-transactional message without flushing it, and a
 * walsender only sends flushed WAL; on an idle server the heartbeat would
 * wait for someone else's commit (PostgreSQL 17 added a flush argument for
 * exactly this). Here the message is flushed before the function returns.
 *
 * PostgreSQL versions assumed: 15 (compat.hpp has the LogLogicalMessage shim).
 *-------------------------------------------------------------------------
 */
#include "mostajs/compat.hpp"
#include "mostajs/decoding/type_encoding.hpp" /* AppendTimestamptzJson */

extern "C" {
#include "postgres.h"
#include "access/xlog.h"		  /* XLogFlush, RecoveryInProgress */
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/pg_lsn.h"		  /* PG_RETURN_LSN */
#include "utils/timestamp.h"	  /* GetCurrentTimestamp */

PG_FUNCTION_INFO_V1(mostajs_heartbeat);
}

namespace mostajs {

namespace {

constexpr const char *kHeartbeatPrefix = "mostajs.heartbeat";

} // namespace

} // namespace mostajs

/* mostajs_heartbeat is mosta_heartbeat() → pg_lsn: writes {"ts":"<now, ISO 8601 UTC>"} and flushes it. */
extern "C" Datum
mostajs_heartbeat(PG_FUNCTION_ARGS) {
	if (RecoveryInProgress())
		ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
		                errmsg("mosta_heartbeat() cannot run on a standby"),
		                errdetail("A heartbeat is a WAL record, and a standby writes no WAL."),
		                errhint("Call it on the primary the replication slot is on.")));
	StringInfoData content;
	initStringInfo(&content);
	appendStringInfoString(&content, "{\"ts\":");
	/* the timestamp form of the change stream: 2024-05-01T12:30:00.5+00:00 */
	mostajs::AppendTimestamptzJson(&content, GetCurrentTimestamp());
	appendStringInfoChar(&content, '}');
	XLogRecPtr lsn = mostajs::compat::EmitLogicalMessage(mostajs::kHeartbeatPrefix, content.data, content.len, false);
	XLogFlush(lsn);
	PG_RETURN_LSN(lsn);
}
