/*-------------------------------------------------------------------------
 * invoke_cpp.hpp
 *	  InvokeCpp: the one door from PostgreSQL into C++ code.
 *
 * Every extern "C" symbol PostgreSQL calls (SQL functions, callbacks) is a
 * few PG-regime lines that call InvokeCpp<SomethingImpl>(args...). The Impl
 * runs in the C++ regime: RAII, the STL and exceptions are fine there, and
 * PostgreSQL is reached only through PgCall. Nothing thrown may cross into
 * PostgreSQL, and ereport's longjmp must never skip a C++ destructor, so:
 *
 *  - every exception is caught here, its texts copied into stack buffers
 *    (nothing in a catch may raise, so no palloc), and
 *  - ereport(ERROR) runs only after the catch block has ended, when no C++
 *    object of this frame or any inner frame is alive any more.
 *
 * Include this header after every C++ standard header of the including
 * file: PostgreSQL's port.h redefines printf-family names as macros.
 *-------------------------------------------------------------------------
 */
#pragma once

#include <cstring>
#include <exception>
#include <new>

#include "mostajs/pg_error.hpp"

extern "C" {
#include "postgres.h"
}

namespace mostajs {

/* Room for each text of an error; longer texts are cut, never overflowed. */
constexpr size_t kErrorTextSize = 1024;

/*
 * InvokeCpp calls Fn(args...) and returns its result, or raises the C++
 * exception it threw as a PostgreSQL ERROR: a PgError keeps its SQLSTATE,
 * detail and hint; bad_alloc becomes 53200; anything else is XX000.
 */
template <auto Fn, typename... Args>
auto
InvokeCpp(Args... args) -> decltype(Fn(args...)) {
	char sql_state[6] = "XX000";
	char message[kErrorTextSize];
	char detail[kErrorTextSize] = "";
	char hint[kErrorTextSize] = "";
	/* A throw from a PgCall guard's frame leaves these as PostgreSQL set them. */
	sigjmp_buf *saved_exception_stack = PG_exception_stack;
	ErrorContextCallback *saved_context_stack = error_context_stack;

	try {
		return Fn(args...);
	} catch (const PgError &e) {
		strlcpy(sql_state, e.SqlState(), sizeof sql_state);
		strlcpy(message, e.what(), sizeof message);
		strlcpy(detail, e.Detail().c_str(), sizeof detail);
		strlcpy(hint, e.Hint().c_str(), sizeof hint);
	} catch (const std::bad_alloc &) {
		strlcpy(sql_state, "53200", sizeof sql_state);
		strlcpy(message, "out of memory", sizeof message);
	} catch (const std::exception &e) {
		strlcpy(message, e.what(), sizeof message);
	} catch (...) {
		strlcpy(message, "unknown C++ exception", sizeof message);
	}

	PG_exception_stack = saved_exception_stack;
	error_context_stack = saved_context_stack;
	ereport(ERROR, (errcode(MAKE_SQLSTATE(sql_state[0], sql_state[1], sql_state[2], sql_state[3], sql_state[4])),
	                errmsg("%s", message), detail[0] ? errdetail("%s", detail) : 0, hint[0] ? errhint("%s", hint) : 0));
	pg_unreachable();
}

} // namespace mostajs
