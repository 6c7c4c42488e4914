/*-------------------------------------------------------------------------
 * compat.hpp
 *	  The one place for differences between PostgreSQL major versions.
 *
 * Regime: PG. Built for PostgreSQL 15; the branches for later majors say
 * what changed, so a port starts here.
 *-------------------------------------------------------------------------
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "replication/message.h" /* LogLogicalMessage */
}

namespace mostajs::compat {

/* EmitLogicalMessage writes a logical message and returns its end LSN, without flushing it. */
inline XLogRecPtr
EmitLogicalMessage(const char *prefix, const char *content, size_t size, bool transactional) {
#if PG_VERSION_NUM >= 170000
	/* 17 added a flush argument */
	return LogLogicalMessage(prefix, content, size, transactional, false);
#else
	return LogLogicalMessage(prefix, content, size, transactional);
#endif
}

/* LsnHigh and LsnLow are LSN_FORMAT_ARGS's halves: that macro does not compile as C++ (__builtin_types_compatible_p). */
inline uint32
LsnHigh(XLogRecPtr lsn) {
	return static_cast<uint32>(lsn >> 32);
}
inline uint32
LsnLow(XLogRecPtr lsn) {
	return static_cast<uint32>(lsn);
}

} // namespace mostajs::compat
