/*
 * errors_test.cpp
 *     Unit tests for ClassifySqlState (a table of SQLSTATEs) and PgError (parts, masking, libpq fallbacks).
 */
#include "pg/errors.hpp"

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "pg/handles.hpp"

namespace {

namespace sc = mosta::sidecar;
using sc::ErrorClass;

struct SqlStateCase {
	std::string_view sqlstate;
	ErrorClass expected;
	std::string_view meaning;
};

constexpr SqlStateCase kSqlStateCases[] = {
	{"", ErrorClass::Retry, "libpq-side failure, no SQLSTATE"},
	{"08000", ErrorClass::Retry, "connection_exception"},
	{"08003", ErrorClass::Retry, "connection_does_not_exist"},
	{"08006", ErrorClass::Retry, "connection_failure"},
	{"08001", ErrorClass::Retry, "sqlclient_unable_to_establish_sqlconnection"},
	{"08004", ErrorClass::Retry, "sqlserver_rejected_establishment_of_sqlconnection"},
	{"08P01", ErrorClass::Retry, "protocol_violation"},
	{"57P01", ErrorClass::Retry, "admin_shutdown"},
	{"57P02", ErrorClass::Retry, "crash_shutdown"},
	{"57P03", ErrorClass::Retry, "cannot_connect_now"},
	{"57P05", ErrorClass::Retry, "idle_session_timeout"},
	{"53000", ErrorClass::Retry, "insufficient_resources"},
	{"53100", ErrorClass::Retry, "disk_full"},
	{"53200", ErrorClass::Retry, "out_of_memory"},
	{"53300", ErrorClass::Retry, "too_many_connections"},
	{"53400", ErrorClass::Retry, "configuration_limit_exceeded"},
	{"40001", ErrorClass::Retry, "serialization_failure"},
	{"40P01", ErrorClass::Retry, "deadlock_detected"},
	{"55006", ErrorClass::RetryLater, "object_in_use (slot active for another PID)"},
	{"55000", ErrorClass::RetryLater, "object_not_in_prerequisite_state"},
	{"42704", ErrorClass::Fatal, "undefined_object (slot does not exist)"},
	{"42501", ErrorClass::Fatal, "insufficient_privilege (also output_plugin_libraries)"},
	{"28000", ErrorClass::Fatal, "invalid_authorization_specification"},
	{"28P01", ErrorClass::Fatal, "invalid_password"},
	{"3D000", ErrorClass::Fatal, "invalid_catalog_name"},
	{"22023", ErrorClass::Fatal, "invalid_parameter_value (bad plugin option)"},
	{"42601", ErrorClass::Fatal, "syntax_error (option given twice)"},
	{"0A000", ErrorClass::Fatal, "feature_not_supported"},
	{"57P04", ErrorClass::Fatal, "database_dropped"},
	{"57014", ErrorClass::Fatal, "query_canceled"},
	{"58P01", ErrorClass::Fatal, "undefined_file (WAL segment removed)"},
	{"40002", ErrorClass::Fatal, "transaction_integrity_constraint_violation"},
	{"55P03", ErrorClass::Fatal, "lock_not_available"},
	{"XX000", ErrorClass::Fatal, "internal_error"},
	{"08", ErrorClass::Fatal, "malformed: too short"},
	{"080000", ErrorClass::Fatal, "malformed: too long"},
	{"57P0", ErrorClass::Fatal, "malformed: truncated 57P01"},
};

TEST(ClassifySqlState, FollowsTheTable) {
	for (const SqlStateCase &test_case : kSqlStateCases)
		EXPECT_EQ(sc::ClassifySqlState(test_case.sqlstate), test_case.expected)
			<< test_case.sqlstate << " " << test_case.meaning;
}

TEST(ErrorClassName, NamesEachClass) {
	EXPECT_EQ(sc::ErrorClassName(ErrorClass::Retry), "retry");
	EXPECT_EQ(sc::ErrorClassName(ErrorClass::RetryLater), "retry later");
	EXPECT_EQ(sc::ErrorClassName(ErrorClass::Fatal), "fatal");
}

TEST(PgError, KeepsItsParts) {
	sc::PgError error("START_REPLICATION", "42704", "replication slot \"sidecar\" does not exist", "some detail",
					  "Create it first.");
	EXPECT_STREQ(error.what(), "START_REPLICATION: replication slot \"sidecar\" does not exist");
	EXPECT_EQ(error.SqlState(), "42704");
	EXPECT_EQ(error.Message(), "replication slot \"sidecar\" does not exist");
	EXPECT_EQ(error.Detail(), "some detail");
	EXPECT_EQ(error.Hint(), "Create it first.");
	EXPECT_EQ(error.Class(), ErrorClass::Fatal);
}

TEST(PgError, IsARuntimeError) {
	try {
		throw sc::PgError("connect", "57P03", "the database system is starting up");
	} catch (const std::runtime_error &error) {
		EXPECT_STREQ(error.what(), "connect: the database system is starting up");
	}
}

TEST(PgError, MasksCredentialsAndJoinsLines) {
	sc::PgError error("connecting to postgresql://rep:s3cret@db/app", "08006",
					  "could not connect\n\tpassword=hunter2 was rejected\n");
	std::string text = error.what();
	EXPECT_EQ(text.find("s3cret"), std::string::npos) << text;
	EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
	EXPECT_EQ(text.find('\n'), std::string::npos) << text;
	EXPECT_EQ(error.Message(), "could not connect password=*** was rejected");
	EXPECT_EQ(error.Class(), ErrorClass::Retry);
}

TEST(PgError, FromResultFallsBackToTheStatus) {
	sc::PgResultHandle result(PQmakeEmptyPGresult(nullptr, PGRES_FATAL_ERROR));
	ASSERT_NE(result, nullptr);
	sc::PgError error = sc::PgError::FromResult("IDENTIFY_SYSTEM", result.get(), nullptr);
	EXPECT_EQ(error.SqlState(), "");
	EXPECT_STREQ(error.what(), "IDENTIFY_SYSTEM: unexpected result status PGRES_FATAL_ERROR");
}

TEST(PgError, FromNullResultAndNullConn) {
	sc::PgError error = sc::PgError::FromResult("query", nullptr, nullptr);
	EXPECT_STREQ(error.what(), "query: no result (out of memory or connection lost)");
	EXPECT_EQ(error.Class(), ErrorClass::Retry);
	EXPECT_STREQ(sc::PgError::FromConn("connect", nullptr).what(), "connect: out of memory allocating a connection");
}

// FailedConnection connects to a Unix socket directory that does not exist: fails at once, without a network.
sc::PgConnHandle
FailedConnection() {
	return sc::PgConnHandle(PQconnectdb("host=/nonexistent/mosta-sidecar-test port=5999 dbname=x user=x"));
}

TEST(PgError, FromConnReadsTheConnectionMessage) {
	sc::PgConnHandle conn = FailedConnection();
	ASSERT_NE(conn, nullptr);
	ASSERT_EQ(PQstatus(conn.get()), CONNECTION_BAD);
	sc::PgError error = sc::PgError::FromConn("connect", conn.get());
	EXPECT_EQ(error.SqlState(), "");
	EXPECT_EQ(error.Class(), ErrorClass::Retry);
	EXPECT_NE(error.Message().find("/nonexistent/mosta-sidecar-test/.s.PGSQL.5999"), std::string::npos)
		<< error.Message();
	EXPECT_EQ(error.Message().find('\n'), std::string::npos);

	sc::PgError from_result = sc::PgError::FromResult("connect", nullptr, conn.get());
	EXPECT_EQ(from_result.Message(), error.Message());
}

} // namespace
