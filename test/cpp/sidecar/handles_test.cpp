/*
 * handles_test.cpp
 *     Unit tests for the libpq RAII handles: zero-overhead, noexcept, move-only owners that free what libpq
 *     allocates (run under AddressSanitizer to see a leak fail).
 */
#include "pg/handles.hpp"

#include <cstring>
#include <type_traits>
#include <utility>

#include <gtest/gtest.h>

namespace {

namespace sc = mosta::sidecar;

static_assert(sizeof(sc::PgConnHandle) == sizeof(PGconn *));
static_assert(sizeof(sc::PgResultHandle) == sizeof(PGresult *));
static_assert(sizeof(sc::PgBufferHandle) == sizeof(char *));
static_assert(std::is_nothrow_invocable_v<sc::PgConnDeleter, PGconn *>);
static_assert(std::is_nothrow_invocable_v<sc::PgResultDeleter, PGresult *>);
static_assert(std::is_nothrow_invocable_v<sc::PgBufferDeleter, char *>);
static_assert(!std::is_copy_constructible_v<sc::PgConnHandle>);
static_assert(std::is_nothrow_move_constructible_v<sc::PgConnHandle>);

TEST(PgHandles, OwnAConnectionAndItsBuffers) {
	sc::PgConnHandle conn(PQconnectdb("host=/nonexistent/mosta-sidecar-test port=5999 dbname=x user=x"));
	ASSERT_NE(conn, nullptr);
	EXPECT_EQ(PQstatus(conn.get()), CONNECTION_BAD);

	const char name[] = "Odd\"Name";
	sc::PgBufferHandle quoted(PQescapeIdentifier(conn.get(), name, std::strlen(name)));
	ASSERT_NE(quoted, nullptr);
	EXPECT_STREQ(quoted.get(), "\"Odd\"\"Name\"");

	sc::PgConnHandle moved = std::move(conn);
	EXPECT_EQ(conn, nullptr);
	EXPECT_NE(moved, nullptr);
	moved.reset();
	EXPECT_EQ(moved, nullptr);
}

TEST(PgHandles, OwnAResult) {
	sc::PgResultHandle result(PQmakeEmptyPGresult(nullptr, PGRES_COMMAND_OK));
	ASSERT_NE(result, nullptr);
	EXPECT_EQ(PQresultStatus(result.get()), PGRES_COMMAND_OK);
	result.reset(PQmakeEmptyPGresult(nullptr, PGRES_TUPLES_OK)); // frees the first one
	EXPECT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK);
}

TEST(PgHandles, EmptyHandlesFreeNothing) {
	sc::PgConnHandle conn;
	sc::PgResultHandle result;
	sc::PgBufferHandle buffer;
	EXPECT_EQ(conn, nullptr);
	EXPECT_EQ(result, nullptr);
	EXPECT_EQ(buffer, nullptr);
}

} // namespace
