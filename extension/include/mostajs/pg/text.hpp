/*-------------------------------------------------------------------------
 * text.hpp
 *	  Moving text between SQL arguments/results and std::string.
 *
 * Regime: C++. Each function reaches PostgreSQL only through PgCall, so a
 * raise (detoasting, palloc) arrives as a PgError.
 *-------------------------------------------------------------------------
 */
#pragma once

#include <string>

extern "C" {
#include "postgres.h"
#include "fmgr.h" /* FunctionCallInfo */
}

namespace mostajs::pg {

/* ArgIsNull reports whether argument n of the call is SQL NULL. */
bool ArgIsNull(FunctionCallInfo fcinfo, int n);

/* TextArg returns text argument n as a std::string; it must not be NULL. */
std::string TextArg(FunctionCallInfo fcinfo, int n);

/* TextDatum returns value as a palloc'd text Datum in the current memory context. */
Datum TextDatum(const std::string &value);

} // namespace mostajs::pg
