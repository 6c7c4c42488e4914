/*
 * mapping_names_test.cpp
 *     NormaliseType spells every type as PostgreSQL 15's format_type(atttypid, atttypmod) prints a column of it
 *     (the expected column was checked against a real server: CREATE TEMP TABLE with one column per input), but for
 *     an array's dimensions, which it keeps (format_type prints one "[]"): SameColumnType compares the two.
 */
#include "mapping/mapping_names.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace {

using mosta::mapping::NormaliseType;
using mosta::mapping::SameColumnType;

struct Case {
	std::string_view input;
	std::string_view format_type;
};

constexpr Case kCases[] = {
	{"timestamp(3) with time zone", "timestamp(3) with time zone"},
	{"timestamp(3) without time zone", "timestamp(3) without time zone"},
	{"timestamp with time zone", "timestamp with time zone"},
	{"timestamp without time zone", "timestamp without time zone"},
	{"timestamp", "timestamp without time zone"},
	{"timestamp(0)", "timestamp(0) without time zone"},
	{"TIMESTAMP ( 3 )  WITH  TIME ZONE", "timestamp(3) with time zone"},
	{"timestamptz", "timestamp with time zone"},
	{"timestamptz(3)", "timestamp(3) with time zone"},
	{"timestamptz(6)[]", "timestamp(6) with time zone[]"},
	{"time", "time without time zone"},
	{"time(2)", "time(2) without time zone"},
	{"time(2) with time zone", "time(2) with time zone"},
	{"timetz", "time with time zone"},
	{"timetz(4)", "time(4) with time zone"},
	{"varchar", "character varying"},
	{"varchar(20)", "character varying(20)"},
	{"character varying(20)", "character varying(20)"},
	{"char varying(7)", "character varying(7)"},
	{"char", "character(1)"},
	{"character", "character(1)"},
	{"char(3)", "character(3)"},
	{"character(3)[]", "character(3)[]"},
	{"bpchar", "bpchar"},
	{"decimal", "numeric"},
	{"decimal(10,2)", "numeric(10,2)"},
	{"decimal(10)", "numeric(10,0)"},
	{"numeric", "numeric"},
	{"numeric( 38 , 18 )", "numeric(38,18)"},
	{"numeric(38,18)[]", "numeric(38,18)[]"},
	{"int", "integer"},
	{"INT", "integer"},
	{"int4", "integer"},
	{"integer", "integer"},
	{"int8", "bigint"},
	{"int2", "smallint"},
	{"smallint", "smallint"},
	{"float4", "real"},
	{"float8", "double precision"},
	{"float", "double precision"},
	{"float(24)", "real"},
	{"float(25)", "double precision"},
	{"real", "real"},
	{"double precision", "double precision"},
	{"bool", "boolean"},
	{"boolean[]", "boolean[]"},
	{"int[]", "integer[]"},
	{"int[3]", "integer[]"},
	{"int8 array", "bigint[]"},
	{"bool[]", "boolean[]"},
	{"varchar(5)[]", "character varying(5)[]"},
	{"text", "text"},
	{"text[]", "text[]"},
	{"jsonb", "jsonb"},
	{"uuid", "uuid"},
	{"date", "date"},
	{"interval", "interval"},
	{"bit", "bit(1)"},
	{"varbit(8)", "bit varying(8)"},
};

TEST(MappingNames, NormaliseTypePrintsFormatType) {
	for (const Case &c : kCases)
		EXPECT_EQ(NormaliseType(c.input), c.format_type) << "input: " << c.input;
}

TEST(MappingNames, ArrayDimensionsStayAndCompareAsFormatTypePrintsThem) {
	EXPECT_EQ(NormaliseType("int4[][]"), "integer[][]");
	EXPECT_EQ(NormaliseType("int[3][3]"), "integer[][]");
	EXPECT_EQ(NormaliseType("int array[3]"), "integer[]");
	EXPECT_EQ(NormaliseType("timestamptz(3)[][]"), "timestamp(3) with time zone[][]");
	EXPECT_TRUE(SameColumnType("integer[]", "integer[][]"));
	EXPECT_TRUE(SameColumnType("integer[]", "integer[]"));
	EXPECT_TRUE(SameColumnType("timestamp(3) with time zone", "timestamp(3) with time zone"));
	EXPECT_FALSE(SameColumnType("integer", "integer[]"));
	EXPECT_FALSE(SameColumnType("bigint[]", "integer[][]"));
	EXPECT_FALSE(SameColumnType("timestamp(6) with time zone", "timestamp(3) with time zone"));
}

TEST(MappingNames, NormaliseTypeRefusesWhatIsNotATypeName) {
	for (std::string_view bad : {"", "   ", "text; drop table x", "text'", "int(", "int)", "numeric(,2)", "[]",
								 "int[]x", "1int", "int[a]", "numeric(1)(2)", "text -- x"})
		EXPECT_EQ(NormaliseType(bad), "") << "input: " << bad;
}

} // namespace
