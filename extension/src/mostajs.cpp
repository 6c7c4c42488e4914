/*-------------------------------------------------------------------------
 * mostajs.cpp
 *	  Module entry: PG_MODULE_MAGIC, _PG_init and the extension's settings.
 *
 * Regime: PG. _PG_init only defines GUCs and registers the write lease's
 * hooks: no C++ object is alive in it, so a raise unwinds nothing of ours.
 *
 * PostgreSQL versions assumed: 15.
 *-------------------------------------------------------------------------
 */
#include <climits>

#include "mostajs/ha/write_lease.hpp"
#include "mostajs/settings.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"	   /* PG_MODULE_MAGIC, PG_FUNCTION_INFO_V1 */
#include "utils/guc.h" /* DefineCustomIntVariable, MarkGUCPrefixReserved */

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

namespace mostajs {

/* Replica status older than this is treated as unknown by read routing. */
int status_max_age_ms = 30000;

} // namespace mostajs

/* _PG_init defines the mostajs.* settings when the library is loaded. */
extern "C" void
_PG_init(void) {
	DefineCustomIntVariable(
		"mostajs.status_max_age", "Age after which a replica's reported status no longer counts for read routing.",
		"The sidecar refreshes mosta.replica_status continuously; a row older than this means "
		"the sidecar stopped reporting, so the replica's lag is unknown. 0 disables the check.",
		&mostajs::status_max_age_ms, 30000, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("mostajs.write_lease",
							 "Refuses the commit of a transaction that writes unless the node agent's write lease "
							 "is valid.",
							 "For automatic failover (docs/ha.md): the node agent holding the project's leader key "
							 "renews the lease; a node whose lease ran out commits no write. Needs "
							 "shared_preload_libraries = 'mostajs'.",
							 &mostajs::write_lease_enabled, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("mostajs");
	mostajs::InitWriteLease();
}
