/*-------------------------------------------------------------------------
 * routing_functions.cpp
 *	  Small helpers mosta_read_replica() uses.
 *
 * Regime: PG. Neither function holds a C++ object or can throw.
 *-------------------------------------------------------------------------
 */
#include <cstdint>

#include "mostajs/settings.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"

PG_FUNCTION_INFO_V1(mostajs_round_robin_tick);
PG_FUNCTION_INFO_V1(mostajs_status_max_age_ms);
}

namespace {

/*
 * Backend-local, so round-robin needs no write (it works on a hot standby
 * and costs no WAL); each session cycles through the eligible replicas.
 */
uint64_t round_robin_counter = 0;

} // namespace

/* mostajs_round_robin_tick returns this session's next round-robin position: 0, 1, 2, ... */
extern "C" Datum
mostajs_round_robin_tick(PG_FUNCTION_ARGS) {
	uint64_t position = round_robin_counter++;
	PG_RETURN_INT64(static_cast<int64>(position & INT64_MAX));
}

/* mostajs_status_max_age_ms returns the mostajs.status_max_age setting. */
extern "C" Datum
mostajs_status_max_age_ms(PG_FUNCTION_ARGS) {
	PG_RETURN_INT32(mostajs::status_max_age_ms);
}
