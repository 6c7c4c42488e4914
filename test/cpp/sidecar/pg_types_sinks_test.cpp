/*
 * pg_types_sinks_test.cpp
 *     The sinks' and verify's classifiers read the one type table (mosta/common/pg_types.hpp): for every row, the
 *     SQLite declared type, the SQL dump's BC-year form and verify_mongo's json exclusion follow it.
 */
#include <gtest/gtest.h>

#include <string>

#include "app/verify_mongo.hpp"
#include "mosta/common/pg_types.hpp"
#include "sink/sql_dump_literal.hpp"
#include "sink/sqlite_table.hpp"

namespace mosta::sidecar {
namespace {

TEST(PgTypeTableInSinks, EveryRowClassifiesAlike) {
	for (const PgTypeInfo &row : PgTypeTable()) {
		std::string name(row.name);
		EXPECT_EQ(SqliteDeclaredType(name), SqliteDeclaredTypeName(row.sqlite)) << name;
		EXPECT_EQ(SqliteDeclaredType(name + "[]"), "TEXT") << name;
		std::string literal = SqlLiteral(Value{std::string("-0043-03-15")}, name);
		bool bc = literal.find(" BC'") != std::string::npos;
		EXPECT_EQ(bc, row.sql == SqlLiteralForm::BcYears) << literal;
		EXPECT_EQ(MongoVerifyExcluded(name), row.kind == PgTypeKind::Json) << name;
		EXPECT_EQ(MongoVerifyExcluded(name + "[]"), row.kind == PgTypeKind::Json) << name;
	}
	EXPECT_EQ(SqliteDeclaredType("public.mood"), "");
	EXPECT_EQ(SqliteDeclaredType("public.mood[]"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("interval"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("numeric(10,2)"), "TEXT");
	EXPECT_EQ(SqliteDeclaredType("timestamp(3) with time zone"), "TEXT");
	EXPECT_EQ(SqlLiteral(Value{std::string("-0043-03-15T00:00:00")}, "timestamp(3) without time zone"),
			  "'0044-03-15T00:00:00 BC'::timestamp(3) without time zone");
}

} // namespace
} // namespace mosta::sidecar
