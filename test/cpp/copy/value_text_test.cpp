/*
 * value_text_test.cpp
 *     PgText ⇄ Canonical. Every vector was read from a PostgreSQL 15 server: the PgText side is COPY's output
 *     (unescaped) under kSessionSettingsSql, the Canonical side is mosta.canonical_text() of the same value
 *     (test/integration/copy_pg_source.sh checks the whole type zoo the same way against a live server).
 */
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "io/source.hpp"
#include "model/value_text.hpp"

namespace mosta::copy {
namespace {

ColumnDef
Column(std::string type, std::string base_type = "") {
	ColumnDef column;
	column.name = "c";
	column.type = std::move(type);
	column.base_type = base_type.empty() ? column.type : std::move(base_type);
	return column;
}

struct Vector {
	std::string type;
	std::string pg_text;
	std::string canonical;
};

// Both directions: PgText → Canonical, and back to the very same PgText.
const std::vector<Vector> kRoundTrips = {
	{"boolean", "t", "true"},
	{"boolean", "f", "false"},
	{"integer", "-32768", "-32768"},
	{"bigint", "9223372036854775807", "9223372036854775807"},
	{"numeric", "12.500", "12.500"},
	{"numeric", "NaN", "NaN"},
	{"real", "-0", "-0"},
	{"double precision", "1e-07", "1e-07"},
	{"double precision", "1e+300", "1e+300"},
	{"double precision", "-Infinity", "-Infinity"},
	{"text", "tab\there\nnewline\r\\back \\N é 日本", "tab\there\nnewline\r\\back \\N é 日本"},
	{"character(4)", "ab  ", "ab  "},
	{"bytea", "\\x00ff10", "\\x00ff10"},
	{"json", "{\"a\":\n 1,  \"a\": 2}", "{\"a\":\n 1,  \"a\": 2}"},
	{"jsonb", "null", "null"},
	{"interval", "P1Y2M3DT4H5M6.5S", "P1Y2M3DT4H5M6.5S"},
	{"interval", "P-1DT-2H", "P-1DT-2H"},
	{"time without time zone", "12:34:56.789", "12:34:56.789"},
	{"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
	{"zoo.mood", "happy", "happy"},
	{"inet", "192.168.0.1/24", "192.168.0.1/24"},
	{"timestamp with time zone", "2024-05-01 08:30:00.5+00", "2024-05-01T08:30:00.5+00:00"},
	{"timestamp with time zone", "infinity", "infinity"},
	{"timestamp with time zone", "0001-01-01 00:00:00+00 BC", "0000-01-01T00:00:00+00:00"},
	{"timestamp with time zone", "4714-11-24 00:00:00+00 BC", "-4713-11-24T00:00:00+00:00"},
	{"timestamp(3) with time zone", "2024-05-01 05:00:00+00", "2024-05-01T05:00:00+00:00"},
	{"timestamp without time zone", "2024-05-01 12:30:00", "2024-05-01T12:30:00"},
	{"timestamp without time zone", "10000-01-01 00:00:00", "10000-01-01T00:00:00"},
	{"timestamp without time zone", "12345-01-01 00:00:00", "12345-01-01T00:00:00"},
	{"timestamp without time zone", "-infinity", "-infinity"},
	{"date", "2024-05-01", "2024-05-01"},
	{"date", "0044-03-15 BC", "-0043-03-15"},
	{"date", "5874897-12-31", "5874897-12-31"},
	{"integer[]", "{1,NULL,3}", "[1,null,3]"},
	{"integer[]", "{}", "[]"},
	{"integer[]", "{{1,2},{3,4}}", "[[1,2],[3,4]]"},
	{"integer[]", "{{NULL}}", "[[null]]"},
	{"text[]", "{\"a,b\",\"q\\\"uote\",\"back\\\\slash\",\"{brace}\",NULL,\"NULL\",\"\"}",
	 "[\"a,b\",\"q\\\"uote\",\"back\\\\slash\",\"{brace}\",null,\"NULL\",\"\"]"},
	{"text[]", "{\"tab\there\",ctl\x01,\"sp ace\",\"null\",x}",
	 "[\"tab\\there\",\"ctl\\u0001\",\"sp ace\",\"null\",\"x\"]"},
	{"jsonb[]", "{NULL,\"null\",\"{\\\"k\\\": 1}\"}", "[null,\"null\",\"{\\\"k\\\": 1}\"]"},
	{"json[]", "{\"{\\\"a\\\": 1}\",\"null\"}", "[\"{\\\"a\\\": 1}\",\"null\"]"},
	{"zoo.mood[]", "{happy,sad}", "[\"happy\",\"sad\"]"},
	{"boolean[]", "{t,f,NULL}", "[true,false,null]"},
	{"double precision[]", "{1.5,NaN,Infinity,-Infinity,1e+300,0,1e-07}",
	 "[1.5,\"NaN\",\"Infinity\",\"-Infinity\",1e+300,0,1e-07]"},
	{"real[]", "{1.5,NaN,0.001}", "[1.5,\"NaN\",0.001]"},
	{"numeric[]", "{1.50,NaN,NULL}", "[\"1.50\",\"NaN\",null]"},
	{"bytea[]", "{\"\\\\x00ff\",\"\\\\x\"}", "[\"\\\\x00ff\",\"\\\\x\"]"},
	{"interval[]", "{P1DT2H,P-1M}", "[\"P1DT2H\",\"P-1M\"]"},
	{"box[]", "{(1,2),(0,0);(3,3),(1,1)}", "[\"(1,2),(0,0)\",\"(3,3),(1,1)\"]"},
	{"timestamp with time zone[]", "{\"2024-05-01 08:30:00.5+00\",\"0044-03-15 12:00:00+00 BC\",infinity,NULL}",
	 "[\"2024-05-01T08:30:00.5+00:00\",\"-0043-03-15T12:00:00+00:00\",\"infinity\",null]"},
	{"int2vector", "1 2", "[1,2]"},
	{"int2vector", "", "[]"},
	{"oidvector", "4294967295 0", "[4294967295,0]"},
	{"date[]", "{2024-05-01,\"0001-01-01 BC\",-infinity}", "[\"2024-05-01\",\"0000-01-01\",\"-infinity\"]"},
	{"timestamp without time zone[]", "{\"2024-05-01 12:30:00\",\"0010-01-01 00:00:00 BC\"}",
	 "[\"2024-05-01T12:30:00\",\"-0009-01-01T00:00:00\"]"},
};

TEST(ValueText, PgTextToCanonicalMatchesTheServer) {
	for (const Vector &v : kRoundTrips)
		EXPECT_EQ(PgTextToCanonical(Column(v.type), v.pg_text), v.canonical) << v.type << " " << v.pg_text;
}

TEST(ValueText, CanonicalToPgTextIsTheServersText) {
	for (const Vector &v : kRoundTrips)
		EXPECT_EQ(CanonicalToPgText(Column(v.type), v.canonical), v.pg_text) << v.type << " " << v.canonical;
}

TEST(ValueText, LowerBoundsAreDropped) {
	EXPECT_EQ(PgTextToCanonical(Column("integer[]"), "[0:2]={1,NULL,3}"), "[1,null,3]");
	EXPECT_EQ(PgTextToCanonical(Column("text[]"), "[2:3][1:1]={{a},{b}}"), "[[\"a\"],[\"b\"]]");
}

TEST(ValueText, DomainsFollowTheirBaseType) {
	EXPECT_EQ(PgTextToCanonical(Column("zoo.flag", "boolean"), "t"), "true");
	EXPECT_EQ(PgTextToCanonical(Column("zoo.when_list", "date[]"), "{\"0044-03-15 BC\"}"), "[\"-0043-03-15\"]");
	EXPECT_EQ(PgTextToCanonical(Column("zoo.qty", "integer"), "7"), "7");
}

TEST(ValueText, CanonicalFromOtherWritersIsRead) {
	// JSON with spaces between tokens (a hand-written JSON export), booleans and numbers of other element types
	EXPECT_EQ(CanonicalToPgText(Column("integer[]"), " [ 1 , null ,[2] ] "), "{1,NULL,{2}}");
	EXPECT_EQ(CanonicalToPgText(Column("timestamp with time zone"), "2024-05-01T10:30:00+05:30"),
			  "2024-05-01 10:30:00+05:30");
	EXPECT_EQ(CanonicalToPgText(Column("text[]"), "[\"\\u00e9\"]"), "{é}");
}

TEST(ValueText, BadValuesNameTheColumnAndTheValue) {
	try {
		PgTextToCanonical(Column("boolean"), "yes");
		FAIL() << "no error";
	} catch (const CopyError &error) {
		EXPECT_NE(std::string(error.what()).find("column \"c\" (boolean)"), std::string::npos) << error.what();
		EXPECT_NE(std::string(error.what()).find("\"yes\""), std::string::npos) << error.what();
	}
	EXPECT_THROW(PgTextToCanonical(Column("integer[]"), "{1,2"), CopyError);
	EXPECT_THROW(PgTextToCanonical(Column("integer[]"), "1,2}"), CopyError);
	EXPECT_THROW(PgTextToCanonical(Column("date"), "May 1st"), CopyError);
	EXPECT_THROW(PgTextToCanonical(Column("timestamp with time zone"), "2024-05-01"), CopyError);
	EXPECT_THROW(CanonicalToPgText(Column("integer[]"), "[1,"), CopyError);
	EXPECT_THROW(CanonicalToPgText(Column("text[]"), "[\"a\\u0000\"]"), CopyError);
	EXPECT_THROW(CanonicalToPgText(Column("boolean"), "t"), CopyError);
}

TableDef
SampleTable() {
	TableDef table;
	table.schema = "zoo";
	table.name = "values";
	table.columns = {Column("integer"), Column("boolean"), Column("timestamp with time zone"), Column("text[]"),
					 Column("integer")};
	for (std::size_t i = 0; i < table.columns.size(); ++i)
		table.columns[i].name = "c" + std::to_string(i);
	table.columns[4].generated = "(c0 * 2)";
	return table;
}

TEST(ValueText, ConvertBatchConvertsEveryCopiedColumnBothWays) {
	TableDef table = SampleTable();
	RowBatch batch(4, ValueForm::PgText);
	batch.AddField("1");
	batch.AddField("t");
	batch.AddField("2024-05-01 08:30:00.5+00");
	batch.AddField("{a,NULL}");
	batch.AddNull();
	batch.AddField("f");
	batch.AddNull();
	batch.AddField("{}");
	RowBatch canonical = ConvertBatch(batch, table, ValueForm::Canonical);
	ASSERT_EQ(canonical.Form(), ValueForm::Canonical);
	ASSERT_EQ(canonical.Rows(), 2u);
	EXPECT_EQ(*canonical.Field(0, 1), "true");
	EXPECT_EQ(*canonical.Field(0, 2), "2024-05-01T08:30:00.5+00:00");
	EXPECT_EQ(*canonical.Field(0, 3), "[\"a\",null]");
	EXPECT_FALSE(canonical.Field(1, 0).has_value());
	EXPECT_EQ(*canonical.Field(1, 1), "false");
	EXPECT_EQ(*canonical.Field(1, 3), "[]");
	RowBatch back = ConvertBatch(canonical, table, ValueForm::PgText);
	for (std::size_t r = 0; r < batch.Rows(); ++r)
		for (std::size_t c = 0; c < batch.Columns(); ++c)
			EXPECT_EQ(back.Field(r, c), batch.Field(r, c)) << r << "," << c;
	RowBatch same = ConvertBatch(batch, table, ValueForm::PgText);
	EXPECT_EQ(same.Field(0, 2), batch.Field(0, 2));
}

TEST(ValueText, ConvertBatchNamesTableRowAndColumn) {
	TableDef table = SampleTable();
	RowBatch batch(4, ValueForm::PgText);
	for (const char *value : {"1", "x", "2024-05-01 08:30:00+00", "{}"})
		batch.AddField(value);
	try {
		ConvertBatch(batch, table, ValueForm::Canonical);
		FAIL() << "no error";
	} catch (const CopyError &error) {
		std::string message = error.what();
		EXPECT_NE(message.find("zoo.values"), std::string::npos) << message;
		EXPECT_NE(message.find("column \"c1\""), std::string::npos) << message;
	}
	RowBatch narrow(2, ValueForm::PgText);
	EXPECT_THROW(ConvertBatch(narrow, table, ValueForm::Canonical), CopyError);
}

TEST(ValueText, ConvertBatchOfATableWithoutCopiedColumnsKeepsTheRowCount) {
	TableDef table;
	table.schema = "s";
	table.name = "t";
	RowBatch batch(0, ValueForm::PgText);
	batch.AddEmptyRow();
	batch.AddEmptyRow();
	EXPECT_EQ(ConvertBatch(batch, table, ValueForm::Canonical).Rows(), 2u);
}

} // namespace
} // namespace mosta::copy
