/*-------------------------------------------------------------------------
 * pg_call.cpp
 *	  TakePgError: the half of PgCall that does not need to be a template.
 *
 * Regime: called right after a longjmp landed in PgCall, with the saved
 * memory context current again. CopyErrorData can itself raise only when
 * out of memory; then the error goes to the caller's handler, as it would
 * in any PG_CATCH.
 *-------------------------------------------------------------------------
 */
#include "mostajs/pg_call.hpp"


extern "C" {
#include "postgres.h"
#include "utils/elog.h" /* ErrorData, CopyErrorData, FlushErrorState, FreeErrorData */
}

namespace mostajs {

PgError
TakePgError() {
	ErrorData *edata = CopyErrorData();
	FlushErrorState();
	char sql_state[6];
	memcpy(sql_state, unpack_sql_state(edata->sqlerrcode), sizeof sql_state);
	std::string message = edata->message ? edata->message : "unknown PostgreSQL error";
	std::string detail = edata->detail ? edata->detail : "";
	std::string hint = edata->hint ? edata->hint : "";
	FreeErrorData(edata);
	return PgError(sql_state, std::move(message), std::move(detail), std::move(hint));
}

} // namespace mostajs
