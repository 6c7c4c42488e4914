/*-------------------------------------------------------------------------
 * text.cpp
 *	  Text arguments and results for C++-regime SQL functions.
 *
 * Regime: C++, through PgCall. The PG-regime helpers below hold no C++
 * object, so PgCall stays the innermost C++ frame.
 *-------------------------------------------------------------------------
 */
#include <string>

#include "mostajs/pg/text.hpp"
#include "mostajs/pg_call.hpp"

extern "C" {
#include "postgres.h"
#include "utils/builtins.h" /* text_to_cstring, cstring_to_text_with_len */
}

namespace mostajs::pg {

namespace {

/* DetoastTextArg returns argument n as a palloc'd C string (PG regime). */
char *
DetoastTextArg(FunctionCallInfo fcinfo, int n) {
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* MakeText returns a palloc'd text of len bytes at data (PG regime). */
Datum
MakeText(const char *data, int len) {
	return PointerGetDatum(cstring_to_text_with_len(data, len));
}

} // namespace

bool
ArgIsNull(FunctionCallInfo fcinfo, int n) {
	/* Reads fields of fcinfo only: cannot raise. */
	return n >= PG_NARGS() || PG_ARGISNULL(n);
}

std::string
TextArg(FunctionCallInfo fcinfo, int n) {
	char *cstring = PgCall(DetoastTextArg, fcinfo, n);
	std::string value(cstring);
	/* pfree of a chunk we just allocated cannot raise. */
	pfree(cstring);
	return value;
}

Datum
TextDatum(const std::string &value) {
	return PgCall(MakeText, value.data(), static_cast<int>(value.size()));
}

} // namespace mostajs::pg
