/*-------------------------------------------------------------------------
 * write_lease.hpp
 *	  The in-server write lease (docs/sql-api.md, "Write lease"): with
 *	  mostajs.write_lease on and the library in shared_preload_libraries, a
 *	  transaction that writes commits only before a deadline the node agent
 *	  keeps pushing forward while it holds the project's leader key.
 *-------------------------------------------------------------------------
 */
#pragma once

namespace mostajs {

/* mostajs.write_lease: refuse the commit of writes without a valid lease. */
extern bool write_lease_enabled;

/*
 * InitWriteLease registers the lease's shared memory hooks and its
 * transaction callback; called by _PG_init. It does nothing unless the
 * library is being loaded by shared_preload_libraries (shared memory can be
 * requested only then); the lease is not enforced in that case.
 */
void InitWriteLease();

} // namespace mostajs
