/*-------------------------------------------------------------------------
 * pg_call.hpp
 *	  PgCall: the one door from C++ code into a PostgreSQL function that can
 *	  raise an ERROR.
 *
 * PgCall installs its own sigsetjmp buffer, calls the function and, when
 * the function raises, lands back in its own frame, copies the error into
 * a PgError, clears PostgreSQL's error state and throws. So the longjmp
 * only ever unwinds C frames.
 *
 * That holds only if PgCall is the innermost C++ frame: the function it
 * calls must be a PostgreSQL function or a PG-regime helper of ours with
 * no C++ object alive in it (a longjmp skips the destructors of every frame
 * between the raise and the sigsetjmp).
 *
 * Include this header after every C++ standard header of the including
 * file (see invoke_cpp.hpp).
 *-------------------------------------------------------------------------
 */
#pragma once

#include <csetjmp>
#include <string>

#include "mostajs/pg_error.hpp"

extern "C" {
#include "postgres.h"
#include "utils/elog.h"	  /* CopyErrorData, FlushErrorState */
#include "utils/memutils.h" /* CurrentMemoryContext */
}

namespace mostajs {

/*
 * PgErrorState saves what a raise changes (the exception and error-context
 * stacks, the current memory context) and puts it back when it goes out of
 * scope, on every path out of PgCall.
 */
class PgErrorState {
public:
	PgErrorState() noexcept
	    : exception_stack_(PG_exception_stack), context_stack_(error_context_stack),
	      memory_context_(CurrentMemoryContext) {
	}
	~PgErrorState() {
		Restore();
	}
	PgErrorState(const PgErrorState &) = delete;
	PgErrorState &operator=(const PgErrorState &) = delete;

	void
	Restore() noexcept {
		PG_exception_stack = exception_stack_;
		error_context_stack = context_stack_;
		MemoryContextSwitchTo(memory_context_);
	}

private:
	sigjmp_buf *exception_stack_;
	ErrorContextCallback *context_stack_;
	MemoryContext memory_context_;
};

/* TakePgError turns the error PostgreSQL is handling into a PgError and clears it. */
PgError TakePgError();

/* PgCall calls fn(args...) and returns its result, or throws PgError if it raised. */
template <typename Fn, typename... Args>
auto
PgCall(Fn fn, Args... args) -> decltype(fn(args...)) {
	PgErrorState saved;
	sigjmp_buf local_buffer;
	if (sigsetjmp(local_buffer, 0) == 0) {
		PG_exception_stack = &local_buffer;
		return fn(args...);
	}
	/* fn raised: we are back here through siglongjmp, with only C frames skipped. */
	saved.Restore();
	throw TakePgError();
}

} // namespace mostajs
