// transform_value_test.cpp: the forward transform's column values, as tables of (BSON value, column type) →
// canonical text or problem. The canonical text is what PostgreSQL holds once the value is stored
// (test/integration/migrate_transform_zoo.sh checks that against a server).
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <bson/bson.h>

#include "mapping/transform.hpp"
#include "support/bson_doc.hpp"

namespace mosta::mapping {
namespace {

using testing::BsonPtr;
using testing::Json;

// OneColumn is a mapping of collection c: the field v into column v of type type.
Mapping
OneColumn(const std::string &type, bool not_null = false) {
	Mapping mapping;
	mapping.name = "t";
	CollectionMap collection;
	collection.collection = "c";
	collection.table = "c";
	FieldMap field;
	field.path = "v";
	field.column = "v";
	field.type = type;
	field.not_null = not_null;
	collection.fields.push_back(field);
	mapping.collections.push_back(collection);
	return mapping;
}

// A row of a table: the value (relaxed extended JSON of v; "" for a missing v), the column type, and the text
// expected (nullopt: NULL) or, when problem is set, a fragment of the problem's reason.
struct Case {
	std::string value;
	std::string type;
	std::optional<std::string> text;
	std::string problem = "";
};

void
Check(const Case &c) {
	Mapping mapping = OneColumn(c.type);
	BsonPtr doc = Json(c.value.empty() ? R"({"_id": 1})" : R"({"_id": 1, "v": )" + c.value + "}");
	ASSERT_TRUE(doc);
	MappedDocument mapped = TransformDocument(mapping, mapping.collections[0], doc.get());
	const std::string label = c.value + " as " + c.type;
	if (!c.problem.empty()) {
		ASSERT_EQ(mapped.problems.size(), 1u) << label;
		EXPECT_NE(mapped.problems[0].reason.find(c.problem), std::string::npos)
			<< label << ": " << mapped.problems[0].reason;
		EXPECT_EQ(mapped.problems[0].field.substr(0, 1), "v") << label;
		return;
	}
	ASSERT_TRUE(mapped.problems.empty()) << label << ": " << mapped.problems[0].reason;
	ASSERT_EQ(mapped.row.values.size(), 4u);
	EXPECT_EQ(mapped.row.values[2], c.text) << label;
	EXPECT_EQ(mapped.row.values[3], std::optional<std::string>("{}")) << label; // v is mapped: not in extra
}

TEST(TransformValue, Text) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"("abc")", "text", "abc"},
			 {R"({"$oid": "65a1b2c3d4e5f60718293a4b"})", "text", "65a1b2c3d4e5f60718293a4b"},
			 {R"(5)", "text", std::nullopt, "an int cannot be stored in a text column"},
			 {R"(true)", "text", std::nullopt, "a bool cannot be stored"},
			 {R"({"a": 1})", "text", std::nullopt, "an object cannot be stored"},
			 {R"("abc")", "character varying(3)", "abc"},
			 {R"("héé")", "character varying(3)", "héé"}, // characters, not bytes
			 {R"("abcd")", "character varying(3)", std::nullopt, "longer than 3 characters"},
			 {R"("ab")", "character(5)", "ab   "},
			 {R"("ab    ")", "character(3)", "ab "}, // trailing spaces beyond n are cut, as bpchar does
			 {R"("line\nbreak \"q\"")", "text", "line\nbreak \"q\""},
			 {R"(null)", "text", std::nullopt},
			 {"", "text", std::nullopt},
		 })
		Check(c);
}

TEST(TransformValue, Integers) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"(5)", "integer", "5"},
			 {R"({"$numberLong": "5"})", "integer", "5"},
			 {R"({"$numberLong": "-2147483648"})", "integer", "-2147483648"},
			 {R"({"$numberLong": "2147483648"})", "integer", std::nullopt, "out of range for integer"},
			 {R"(40000)", "smallint", std::nullopt, "out of range for smallint"},
			 {R"(-32768)", "smallint", "-32768"},
			 {R"({"$numberLong": "9223372036854775807"})", "bigint", "9223372036854775807"},
			 {R"(3.0)", "bigint", "3"},
			 {R"(-0.0)", "integer", "0"},
			 {R"(3.5)", "integer", std::nullopt, "not an integer"},
			 {R"(1e19)", "bigint", std::nullopt, "out of range for bigint"},
			 {R"({"$numberDouble": "NaN"})", "bigint", std::nullopt, "not an integer"},
			 {R"({"$numberDecimal": "7.00"})", "integer", "7"},
			 {R"({"$numberDecimal": "7.5"})", "integer", std::nullopt, "not an integer"},
			 {R"({"$numberDecimal": "1E+30"})", "bigint", std::nullopt, "out of range"},
			 {R"("5")", "integer", std::nullopt, "a string cannot be stored in an integer column"},
			 {R"(true)", "bigint", std::nullopt, "a bool cannot be stored"},
		 })
		Check(c);
}

TEST(TransformValue, Numeric) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"({"$numberDecimal": "12.50"})", "numeric", "12.50"},
			 {R"({"$numberDecimal": "1.00E+3"})", "numeric", "1000"},
			 {R"({"$numberDecimal": "1E-7"})", "numeric", "0.0000001"},
			 {R"({"$numberDecimal": "-0.00"})", "numeric", "0.00"},
			 {R"({"$numberDecimal": "NaN"})", "numeric", "NaN"},
			 {R"({"$numberDecimal": "-Infinity"})", "numeric", "-Infinity"},
			 {R"({"$numberDecimal": "12.5"})", "numeric(38,18)", "12.500000000000000000"},
			 {R"({"$numberDecimal": "12.500000000000000000000"})", "numeric(38,18)", "12.500000000000000000"},
			 {R"({"$numberDecimal": "-0.000000000000000001"})", "numeric(38,18)", "-0.000000000000000001"},
			 {R"({"$numberDecimal": "0.0000000000000000001"})", "numeric(38,18)", std::nullopt,
			  "digits beyond numeric(38,18)'s scale"},
			 {R"({"$numberDecimal": "1.005"})", "numeric(10,2)", std::nullopt, "PostgreSQL would round it"},
			 {R"({"$numberDecimal": "99999999.99"})", "numeric(10,2)", "99999999.99"},
			 {R"({"$numberDecimal": "100000000"})", "numeric(10,2)", std::nullopt, "at most 8 digits before the point"},
			 {R"({"$numberDecimal": "NaN"})", "numeric(10,2)", "NaN"},
			 {R"({"$numberDecimal": "Infinity"})", "numeric(10,2)", std::nullopt, "infinite"},
			 {R"({"$numberDecimal": "12345"})", "numeric(5)", "12345"},
			 {R"({"$numberDecimal": "12300"})", "numeric(3,-2)", "12300"},
			 {R"({"$numberDecimal": "12345"})", "numeric(3,-2)", std::nullopt, "round"},
			 {R"(3)", "numeric(38,18)", "3.000000000000000000"},
			 {R"({"$numberLong": "-42"})", "numeric", "-42"},
			 {R"(0.1)", "numeric", "0.1"},
			 {R"(0.1)", "numeric(38,18)", "0.100000000000000000"},
			 {R"(1e-7)", "numeric", "0.0000001"},
			 {R"(1e20)", "numeric", "100000000000000000000"},
			 {R"(-0.0)", "numeric", "0"},
			 {R"({"$numberDouble": "NaN"})", "numeric", "NaN"},
			 {R"("1e3")", "numeric", "1000"},
			 {R"(" 1.50 ")", "numeric", "1.50"},
			 {R"("-.5")", "numeric(4,2)", "-0.50"},
			 {R"("infinity")", "numeric", "Infinity"},
			 {R"("12abc")", "numeric", std::nullopt, "a string that is not a number"},
			 {R"("")", "numeric", std::nullopt, "not a number"},
			 {R"(true)", "numeric", std::nullopt, "a bool cannot be stored in a numeric column"},
		 })
		Check(c);
}

TEST(TransformValue, Floats) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"(0.1)", "double precision", "0.1"},
			 {R"(1e20)", "double precision", "1e+20"},
			 {R"(1e-5)", "double precision", "1e-05"},
			 {R"(5)", "double precision", "5"},
			 {R"({"$numberLong": "9007199254740993"})", "double precision", "9.007199254740992e+15"},
			 {R"({"$numberDecimal": "2.5"})", "double precision", "2.5"},
			 {R"({"$numberDecimal": "1E+400"})", "double precision", std::nullopt, "out of range"},
			 {R"({"$numberDouble": "NaN"})", "double precision", "NaN"},
			 {R"({"$numberDouble": "-Infinity"})", "double precision", "-Infinity"},
			 {R"(-0.0)", "double precision", "-0"},
			 // integers beyond the mantissa whose shortest digits are a bound of the rounding interval: PostgreSQL
			 // prints one digit more (FormatPgFloat8/4); the expected texts are what PostgreSQL 15 prints
			 {R"({"$numberLong": "3092535278770144256"})", "double precision", "3.0925352787701443e+18"},
			 {R"({"$numberLong": "3092535278770144768"})", "double precision", "3.092535278770145e+18"},
			 {R"(813194368)", "real", "8.1319437e+08"},
			 {R"(813194432)", "real", "8.1319443e+08"},
			 {R"(0.1)", "real", "0.1"},
			 {R"(1e300)", "real", std::nullopt, "out of range for real"},
			 {R"("0.1")", "double precision", std::nullopt, "a string cannot be stored"},
		 })
		Check(c);
}

TEST(TransformValue, BooleansUuidsBytea) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"(true)", "boolean", "true"},
			 {R"(false)", "boolean", "false"},
			 {R"(1)", "boolean", std::nullopt, "an int cannot be stored in a boolean column"},
			 {R"({"$binary": {"base64": "oO68mZwLTvi7bWu5vTgKEQ==", "subType": "04"}})", "uuid",
			  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
			 {R"("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
			 {R"("{a0eebc999c0b4ef8bb6d6bb9bd380a11}")", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
			 {R"("a0eebc99-9c0b")", "uuid", std::nullopt, "not a UUID"},
			 {R"({"$binary": {"base64": "AAE=", "subType": "00"}})", "uuid", std::nullopt, "not a UUID"},
			 {R"({"$binary": {"base64": "AAH/", "subType": "00"}})", "bytea", "\\x0001ff"},
			 {R"("AAH/")", "bytea", std::nullopt, "a string cannot be stored in a bytea column"},
		 })
		Check(c);
}

TEST(TransformValue, DatesAndTimestamps) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"({"$date": {"$numberLong": "0"}})", "timestamp with time zone", "1970-01-01T00:00:00+00:00"},
			 {R"({"$date": {"$numberLong": "1700000000123"}})", "timestamp with time zone",
			  "2023-11-14T22:13:20.123+00:00"},
			 {R"({"$date": {"$numberLong": "1700000000120"}})", "timestamp with time zone",
			  "2023-11-14T22:13:20.12+00:00"},
			 {R"({"$date": {"$numberLong": "1700000000123"}})", "timestamp without time zone",
			  "2023-11-14T22:13:20.123"},
			 {R"({"$date": {"$numberLong": "1700000000123"}})", "date", "2023-11-14"},
			 {R"({"$date": {"$numberLong": "-1"}})", "timestamp with time zone", "1969-12-31T23:59:59.999+00:00"},
			 {R"({"$date": {"$numberLong": "-62198755200000"}})", "timestamp with time zone",
			  "-0001-01-01T00:00:00+00:00"}, // 2 BC
			 {R"({"$date": {"$numberLong": "1700000000500"}})", "timestamp(0) with time zone",
			  "2023-11-14T22:13:21+00:00"}, // rounded half away from zero, as PostgreSQL does
			 {R"({"$date": {"$numberLong": "1700000000449"}})", "timestamp(1) without time zone",
			  "2023-11-14T22:13:20.4"},
			 {R"({"$date": {"$numberLong": "9300000000000000"}})", "timestamp with time zone", std::nullopt,
			  "out of the timestamp range"},
			 {R"({"$date": {"$numberLong": "-9223372036854775807"}})", "date", std::nullopt, "out of the"},
			 {R"("2024-05-01T08:30:00.5Z")", "timestamp with time zone", "2024-05-01T08:30:00.5+00:00"},
			 {R"("2024-05-01T10:30:00+02:00")", "timestamp with time zone", "2024-05-01T08:30:00+00:00"},
			 {R"("2024-05-01 08:30:00.1234567")", "timestamp with time zone", "2024-05-01T08:30:00.123457+00:00"},
			 {R"("2024-05-01")", "timestamp with time zone", "2024-05-01T00:00:00+00:00"},
			 {R"("2024-05-01T23:30:00-01:00")", "date", "2024-05-02"},
			 {R"("2024-02-30")", "date", std::nullopt, "not an ISO 8601 date"},
			 {R"("yesterday")", "timestamp with time zone", std::nullopt, "not an ISO 8601 date"},
			 {R"(1700000000123)", "timestamp with time zone", std::nullopt, "cannot be stored"},
		 })
		Check(c);
}

TEST(TransformValue, Jsonb) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"({"b": 1, "a": [1, "x", null], "aa": true})", "jsonb", R"({"a": [1, "x", null], "b": 1, "aa": true})"},
			 {R"({"zz": 1, "b": {"yy": 2, "x": 3}})", "jsonb", R"({"b": {"x": 3, "yy": 2}, "zz": 1})"},
			 {R"("str")", "jsonb", R"("str")"},
			 {R"(5)", "jsonb", "5"},
			 {R"(2.5)", "jsonb", "2.5"},
			 {R"(1e20)", "jsonb", "100000000000000000000"},
			 {R"(-0.0)", "jsonb", "0"},
			 {R"({"$numberDouble": "NaN"})", "jsonb", R"("NaN")"},
			 {R"({"$numberDecimal": "1.50"})", "jsonb", "1.50"},
			 {R"({"$numberDecimal": "Infinity"})", "jsonb", R"("Infinity")"},
			 {R"({"$numberLong": "9007199254740993"})", "jsonb", "9007199254740993"},
			 {R"({"o": {"$oid": "65a1b2c3d4e5f60718293a4b"}})", "jsonb", R"({"o": "65a1b2c3d4e5f60718293a4b"})"},
			 {R"({"d": {"$date": {"$numberLong": "1700000000123"}}})", "jsonb",
			  R"({"d": "2023-11-14T22:13:20.123+00:00"})"},
			 {R"({"r": {"$regularExpression": {"pattern": "^a", "options": "i"}}})", "jsonb",
			  R"({"r": {"$regularExpression": {"options": "i", "pattern": "^a"}}})"},
			 {R"({"t": {"$timestamp": {"t": 7, "i": 3}}})", "jsonb", R"({"t": {"$timestamp": {"i": 3, "t": 7}}})"},
			 {R"({"s": "tab\there \u0001"})", "jsonb", R"({"s": "tab\there \u0001"})"},
			 {R"([])", "jsonb", "[]"},
			 {R"({})", "jsonb", "{}"},
			 {R"(null)", "jsonb", std::nullopt},
		 })
		Check(c);
}

TEST(TransformValue, TypeAliases) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"(5)", "int", "5"},
			 {R"(5)", "int2", "5"},
			 {R"(40000)", "int2", std::nullopt, "out of range for smallint"},
			 {R"({"$numberDecimal": "1.5"})", "decimal(10,2)", "1.50"},
			 {R"({"$date": {"$numberLong": "0"}})", "timestamptz", "1970-01-01T00:00:00+00:00"},
			 {R"(0.1)", "float8", "0.1"},
			 {R"(true)", "bool", "true"},
			 {R"("abcd")", "varchar(3)", std::nullopt, "longer than 3 characters"},
			 {R"([1, 2])", "int[]", "[1,2]"},
		 })
		Check(c);
}

TEST(TransformValue, Arrays) {
	for (const Case &c : std::initializer_list<Case>{
			 {R"(["a", null, "b\"c"])", "text[]", R"(["a",null,"b\"c"])"},
			 {R"([{"$oid": "65a1b2c3d4e5f60718293a4b"}])", "text[]", R"(["65a1b2c3d4e5f60718293a4b"])"},
			 {R"([])", "text[]", "[]"},
			 {R"([1, 2.0, {"$numberLong": "3"}])", "integer[]", "[1,2,3]"},
			 {R"([1, "x"])", "integer[]", std::nullopt, "a string cannot be stored"},
			 {R"("a")", "text[]", std::nullopt, "a string cannot be stored in a text[] column"},
			 {R"([{"$numberDecimal": "1.50"}])", "numeric[]", R"(["1.50"])"},
			 {R"([{"$numberDouble": "NaN"}, 0.5])", "double precision[]", R"(["NaN",0.5])"},
			 {R"([true, false])", "boolean[]", "[true,false]"},
			 {R"([{"$date": {"$numberLong": "0"}}])", "timestamp with time zone[]", R"(["1970-01-01T00:00:00+00:00"])"},
			 {R"([[1, 2], [3, 4]])", "integer[][]", "[[1,2],[3,4]]"},
			 {R"([[1, 2], [3]])", "integer[][]", std::nullopt, "rectangular"},
			 {R"([[1, 2]])", "integer[]", std::nullopt, "an array cannot be stored"},
		 })
		Check(c);
}

TEST(TransformValue, ProblemsNameTheFieldAndTheValue) {
	Mapping mapping = OneColumn("integer[]");
	BsonPtr doc = Json(R"({"_id": 1, "v": [1, 2, "three"]})");
	MappedDocument mapped = TransformDocument(mapping, mapping.collections[0], doc.get());
	ASSERT_EQ(mapped.problems.size(), 1u);
	EXPECT_EQ(mapped.problems[0].field, "v.2");
	EXPECT_EQ(mapped.problems[0].value, R"("three")");

	mapping = OneColumn("text");
	doc = Json(R"({"_id": 1, "v": {"long": ")" + std::string(200, 'x') + R"("}})");
	mapped = TransformDocument(mapping, mapping.collections[0], doc.get());
	ASSERT_EQ(mapped.problems.size(), 1u);
	EXPECT_EQ(mapped.problems[0].field, "v");
	EXPECT_LE(mapped.problems[0].value.size(), 90u);
	EXPECT_EQ(mapped.problems[0].value.substr(0, 10), R"({ "long" :)");
	EXPECT_EQ(mapped.problems[0].value.substr(mapped.problems[0].value.size() - 3), "...");
}

TEST(TransformValue, NotNullColumnMissingOrNull) {
	Mapping mapping = OneColumn("text", true);
	for (const char *json : {R"({"_id": 1})", R"({"_id": 1, "v": null})"}) {
		BsonPtr doc = Json(json);
		MappedDocument mapped = TransformDocument(mapping, mapping.collections[0], doc.get());
		ASSERT_EQ(mapped.problems.size(), 1u) << json;
		EXPECT_EQ(mapped.problems[0].field, "v");
		EXPECT_EQ(mapped.problems[0].reason, "missing, and the column v is NOT NULL");
	}
}

TEST(TransformValue, StringsPostgreSqlCannotHold) {
	Mapping mapping = OneColumn("text");
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_INT32(&doc, "_id", 1);
	bson_append_utf8(&doc, "v", 1, "a\0b", 3);
	MappedDocument mapped = TransformDocument(mapping, mapping.collections[0], &doc);
	ASSERT_EQ(mapped.problems.size(), 1u);
	EXPECT_NE(mapped.problems[0].reason.find("NUL"), std::string::npos);
	bson_destroy(&doc);

	// in extra too: the document is rejected rather than the string cut
	bson_t other = BSON_INITIALIZER;
	BSON_APPEND_INT32(&other, "_id", 1);
	bson_t sub;
	BSON_APPEND_DOCUMENT_BEGIN(&other, "unmapped", &sub);
	bson_append_utf8(&sub, "bad", 3, "\xff\xfe", 2);
	bson_append_document_end(&other, &sub);
	mapped = TransformDocument(mapping, mapping.collections[0], &other);
	ASSERT_EQ(mapped.problems.size(), 1u);
	EXPECT_EQ(mapped.problems[0].field, "unmapped.bad");
	EXPECT_NE(mapped.problems[0].reason.find("UTF-8"), std::string::npos);
	bson_destroy(&other);
}

} // namespace
} // namespace mosta::mapping
