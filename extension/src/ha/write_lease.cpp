/*-------------------------------------------------------------------------
 * write_lease.cpp
 *	  The in-server write lease: mosta_write_lease_grant(),
 *	  mosta_write_lease_revoke(), mosta_write_lease_state() and the
 *	  transaction callback that refuses the commit of a transaction that
 *	  wrote once the lease has run out (docs/sql-api.md, "Write lease";
 *	  docs/ha.md).
 *
 * Why: with automatic failover (issue 17) the node agent of the leader holds
 * the project's leader key in etcd and, after each keep-alive, pushes this
 * server's deadline forward to the moment it can still be sure nobody else
 * holds the key. If the agent freezes, dies or loses etcd, nobody renews the
 * deadline, and this server stops committing writes by itself at the time a
 * standby may be promoted: no two nodes commit writes at once, whatever the
 * agent is doing.
 *
 * The deadline is one pg_atomic_uint64 in shared memory (so every backend
 * sees the agent's grant at once, without a catalog write, and a standby can
 * be granted before its promotion), on CLOCK_BOOTTIME in microseconds: the
 * clock the agent reads before its keep-alive, which wall-clock steps do not
 * move and which keeps counting through a suspend. 0 means never granted
 * since the shared memory was created (server start, or the reinitialisation
 * after a backend crash): fail closed. 1 means revoked.
 *
 * What is refused: the COMMIT (and PREPARE TRANSACTION) of a transaction of a
 * client backend that has a transaction id, i.e. that wrote something; the
 * check runs at XACT_EVENT_PRE_COMMIT / PRE_PREPARE, before the commit record,
 * so a refused transaction aborts as if it had raised the error itself.
 * Read-only transactions, autovacuum, background workers, walsenders and a
 * server in recovery are never refused.
 *
 * Regime: PG. Every function here is C-style: no C++ object is alive when
 * anything raises, nothing throws.
 *
 * PostgreSQL versions assumed: 15 (shmem_request_hook appeared in 15).
 *-------------------------------------------------------------------------
 */
#include "mostajs/ha/write_lease.hpp"

#include <ctime> /* clock_gettime, CLOCK_BOOTTIME */

extern "C" {
#include "postgres.h"
#include "access/xact.h" /* RegisterXactCallback, GetTopTransactionIdIfAny */
#include "access/xlog.h" /* RecoveryInProgress */
#include "fmgr.h"
#include "funcapi.h"		/* InitMaterializedSRF */
#include "miscadmin.h"		/* MyBackendType, shmem_request_hook, process_shared_preload_libraries_in_progress */
#include "port/atomics.h"	/* pg_atomic_uint64 */
#include "storage/ipc.h"	/* shmem_startup_hook */
#include "storage/lwlock.h" /* AddinShmemInitLock */
#include "storage/shmem.h"	/* RequestAddinShmemSpace, ShmemInitStruct */
#include "utils/tuplestore.h"

PG_FUNCTION_INFO_V1(mostajs_write_lease_grant);
PG_FUNCTION_INFO_V1(mostajs_write_lease_revoke);
PG_FUNCTION_INFO_V1(mostajs_write_lease_state);
}

namespace mostajs {

bool write_lease_enabled = false;

namespace {

/* valid_until_us values with a meaning of their own. */
constexpr uint64 kNeverGranted = 0;
constexpr uint64 kRevoked = 1;
/* A grant further ahead than this is a caller's mistake (wrong clock or unit), not a lease. */
constexpr int64 kMaxGrantAheadUs = INT64CONST(3600) * 1000 * 1000;

struct WriteLeaseShared {
	/* the CLOCK_BOOTTIME microsecond before which writes commit */
	pg_atomic_uint64 valid_until_us;
};

/* Set in the postmaster by the startup hook; forked backends inherit it. */
WriteLeaseShared *lease = nullptr;
/* True when _PG_init ran from shared_preload_libraries (also inherited). */
bool preloaded = false;

shmem_request_hook_type previous_shmem_request_hook = nullptr;
shmem_startup_hook_type previous_shmem_startup_hook = nullptr;

/* BoottimeMicros returns CLOCK_BOOTTIME in microseconds (Linux; never steps back, counts suspends). */
int64
BoottimeMicros() {
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		elog(ERROR, "clock_gettime(CLOCK_BOOTTIME) failed: %m");
	return static_cast<int64>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

/* FloorMs returns microseconds as milliseconds rounded down: any time past is negative. */
int64
FloorMs(int64 us) {
	return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
}

/* RequestSharedMemory reserves the lease's shared memory (postmaster, while preloading). */
void
RequestSharedMemory() {
	if (previous_shmem_request_hook)
		previous_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WriteLeaseShared)));
}

/* AttachSharedMemory creates the lease (never granted) or attaches to it. */
void
AttachSharedMemory() {
	if (previous_shmem_startup_hook)
		previous_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found = false;
	lease = static_cast<WriteLeaseShared *>(ShmemInitStruct("mostajs write lease", sizeof(WriteLeaseShared), &found));
	if (!found)
		pg_atomic_init_u64(&lease->valid_until_us, kNeverGranted);
	LWLockRelease(AddinShmemInitLock);
}

/* RequireLease raises 55000 unless the lease's shared memory exists. */
void
RequireLease() {
	if (lease != nullptr)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("mostajs is not in shared_preload_libraries"),
			 errdetail("The write lease lives in shared memory, which a library can reserve only when the "
					   "server loads it at start."),
			 errhint("Set shared_preload_libraries = 'mostajs' and mostajs.write_lease = on in "
					 "postgresql.conf, then restart the server.")));
}

/* RefuseCommit raises 25006: the transaction wrote, and valid_until (<= now) does not allow its commit. */
void
RefuseCommit(uint64 valid_until, int64 now) {
	const char *detail = "mostajs.write_lease is on: a transaction that writes commits only while the node agent "
						 "holds the project's leader key in the DCS.";
	const char *hint = "Another node may be the primary now: reconnect with target_session_attrs=read-write "
					   "(docs/ha.md).";
	if (valid_until == kNeverGranted)
		ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
						errmsg("cannot commit: this node's write lease has not been granted since the server started"),
						errdetail("%s", detail), errhint("%s", hint)));
	if (valid_until == kRevoked)
		ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
						errmsg("cannot commit: this node's write lease was revoked"), errdetail("%s", detail),
						errhint("%s", hint)));
	ereport(ERROR, (errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					errmsg("cannot commit: this node's write lease expired " INT64_FORMAT " ms ago",
						   FloorMs(now - static_cast<int64>(valid_until))),
					errdetail("%s", detail), errhint("%s", hint)));
}

/*
 * CheckLeaseAtCommit refuses, before its commit record, the commit or
 * prepare of a client transaction that wrote while the lease is not valid.
 * ERROR at PRE_COMMIT / PRE_PREPARE aborts the transaction cleanly (never at
 * COMMIT, where it would be a PANIC).
 */
void
CheckLeaseAtCommit(XactEvent event, void *arg) {
	if (event != XACT_EVENT_PRE_COMMIT && event != XACT_EVENT_PARALLEL_PRE_COMMIT && event != XACT_EVENT_PRE_PREPARE)
		return;
	if (!write_lease_enabled || lease == nullptr || MyBackendType != B_BACKEND)
		return;
	if (!TransactionIdIsValid(GetTopTransactionIdIfAny()) || RecoveryInProgress())
		return;
	uint64 valid_until = pg_atomic_read_u64(&lease->valid_until_us);
	int64 now = BoottimeMicros();
	if (valid_until > kRevoked && now < static_cast<int64>(valid_until))
		return;
	RefuseCommit(valid_until, now);
}

} // namespace

void
InitWriteLease() {
	if (!process_shared_preload_libraries_in_progress)
		return;
	preloaded = true;
	previous_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RequestSharedMemory;
	previous_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = AttachSharedMemory;
	RegisterXactCallback(CheckLeaseAtCommit, nullptr);
}

} // namespace mostajs

/*
 * mostajs_write_lease_grant is mosta_write_lease_grant(valid_until_boottime_us
 * bigint) → bigint: writes commit until that CLOCK_BOOTTIME microsecond;
 * returns the milliseconds left (negative when already past).
 */
extern "C" Datum
mostajs_write_lease_grant(PG_FUNCTION_ARGS) {
	mostajs::RequireLease();
	int64 valid_until = PG_GETARG_INT64(0);
	int64 now = mostajs::BoottimeMicros();
	if (valid_until <= static_cast<int64>(mostajs::kRevoked))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("write lease deadline " INT64_FORMAT " is not a CLOCK_BOOTTIME time", valid_until),
						errhint("Pass an absolute CLOCK_BOOTTIME time in microseconds, such as "
								"mosta_write_lease_state().now_boottime_us + 10000000; "
								"mosta_write_lease_revoke() refuses writes at once.")));
	if (valid_until - now > mostajs::kMaxGrantAheadUs)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("write lease deadline " INT64_FORMAT " is more than 1 hour ahead of now (" INT64_FORMAT
							   " µs on CLOCK_BOOTTIME)",
							   valid_until, now),
						errhint("Pass an absolute CLOCK_BOOTTIME time in microseconds, such as "
								"mosta_write_lease_state().now_boottime_us + 10000000.")));
	pg_atomic_write_u64(&mostajs::lease->valid_until_us, static_cast<uint64>(valid_until));
	PG_RETURN_INT64(mostajs::FloorMs(valid_until - now));
}

/* mostajs_write_lease_revoke is mosta_write_lease_revoke() → void: writes are refused from now on. */
extern "C" Datum
mostajs_write_lease_revoke(PG_FUNCTION_ARGS) {
	mostajs::RequireLease();
	pg_atomic_write_u64(&mostajs::lease->valid_until_us, mostajs::kRevoked);
	PG_RETURN_VOID();
}

/*
 * mostajs_write_lease_state is mosta_write_lease_state() → TABLE(enforced,
 * preloaded, granted, remaining_ms, now_boottime_us), one row: granted means a
 * write would commit now; remaining_ms is NULL when never granted.
 */
extern "C" Datum
mostajs_write_lease_state(PG_FUNCTION_ARGS) {
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	int64 now = mostajs::BoottimeMicros();
	uint64 valid_until = mostajs::lease ? pg_atomic_read_u64(&mostajs::lease->valid_until_us) : mostajs::kNeverGranted;
	Datum values[5];
	bool nulls[5] = {false, false, false, false, false};
	values[0] = BoolGetDatum(mostajs::write_lease_enabled && mostajs::preloaded);
	values[1] = BoolGetDatum(mostajs::preloaded);
	values[2] = BoolGetDatum(valid_until > mostajs::kRevoked && now < static_cast<int64>(valid_until));
	if (valid_until == mostajs::kNeverGranted) {
		values[3] = Int64GetDatum(0);
		nulls[3] = true;
	} else
		values[3] = Int64GetDatum(mostajs::FloorMs(static_cast<int64>(valid_until) - now));
	values[4] = Int64GetDatum(now);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return static_cast<Datum>(0);
}
