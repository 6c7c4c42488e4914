/*
 * json_walk_test.cpp
 *     The sinks' JSON walkers over simdjson (util/json_text.hpp): JSON arrays → PostgreSQL array literals
 *     (JsonArrayToPgArray), json → BSON (AppendMongoValue, AppendJsonAsBson), DDL and type messages: nested and
 *     empty arrays, escapes (\u0000, surrogate pairs), numbers kept as written, "$"-keys kept as data, trailing
 *     text and malformed input refused.
 */
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "decode/change.hpp"
#include "sink/ddl_message.hpp"
#include "sink/mongo_bson.hpp"
#include "sink/sql_dump_literal.hpp"
#include "sink/type_definition.hpp"
#include "util/json_text.hpp"

namespace mosta::sidecar {
namespace {

std::string
Bson(const Value &value, const std::string &type) {
	BsonHandle doc = NewBson();
	MappingNotes notes;
	AppendMongoValue(doc.get(), "v", value, type, "v", notes);
	return BsonToRelaxedJson(doc.get());
}

TEST(JsonArrayToPgArray, NestedEmptyAndSpaces) {
	EXPECT_EQ(JsonArrayToPgArray("[]"), "{}");
	EXPECT_EQ(JsonArrayToPgArray(" [ ] "), "{}");
	EXPECT_EQ(JsonArrayToPgArray("[[],[]]"), "{{},{}}");
	EXPECT_EQ(JsonArrayToPgArray(" [ [ 1 , 2 ] , [ 3 , null ] ] "), "{{1,2},{3,NULL}}");
	EXPECT_EQ(JsonArrayToPgArray("[[[true]],[[false]]]"), "{{{true}},{{false}}}");
}

TEST(JsonArrayToPgArray, NumbersAsWritten) {
	// numeric's digits pass through exactly, beyond int64 and double
	EXPECT_EQ(JsonArrayToPgArray(
				  "[123456789012345678901234567890.000000000000000000001, -0.10, 1e400, 18446744073709551616]"),
			  "{123456789012345678901234567890.000000000000000000001,-0.10,1e400,18446744073709551616}");
}

TEST(JsonArrayToPgArray, StringsAndObjects) {
	EXPECT_EQ(JsonArrayToPgArray(R"(["a\"b\\c", "\n\t\/", "\ud83d\ude00", "\u00e9"])"),
			  "{\"a\\\"b\\\\c\",\"\n\t/\",\"\xF0\x9F\x98\x80\",\"\xC3\xA9\"}");
	// an object element keeps its text as sent (spaces included), quoted
	EXPECT_EQ(JsonArrayToPgArray(R"([{"k": [1, "]"]} , {}])"), R"({"{\"k\": [1, \"]\"]}","{}"})");
}

TEST(JsonArrayToPgArray, RefusesWhatPostgresCannotRead) {
	EXPECT_THROW(JsonArrayToPgArray(R"(["a\u0000b"])"), std::invalid_argument); // text cannot hold NUL
	EXPECT_THROW(JsonArrayToPgArray(R"(["\ud83d"])"), std::invalid_argument);	// a lone surrogate
	EXPECT_THROW(JsonArrayToPgArray("[1,2]]"), std::invalid_argument);
	EXPECT_THROW(JsonArrayToPgArray("[1 2]"), std::invalid_argument);
	EXPECT_THROW(JsonArrayToPgArray("[1,]"), std::invalid_argument);
	EXPECT_THROW(JsonArrayToPgArray("[tru]"), std::invalid_argument);
	EXPECT_THROW(JsonArrayToPgArray("{}"), std::invalid_argument);
	EXPECT_THROW(JsonArrayToPgArray(""), std::invalid_argument);
	std::string deep(70, '[');
	deep += std::string(70, ']');
	EXPECT_THROW(JsonArrayToPgArray(deep), std::invalid_argument);
	try {
		JsonArrayToPgArray("[1,");
		FAIL();
	} catch (const std::invalid_argument &error) {
		EXPECT_NE(std::string(error.what()).find("not a JSON array"), std::string::npos) << error.what();
	}
}

TEST(JsonArrayToPgArray, BigTextThenSmallOnes) {
	// a text over 1 MiB frees its parser afterwards; the next parses get a fresh one
	std::string big = "[";
	for (int i = 0; i < 300000; ++i)
		big += (i == 0 ? "" : ",") + std::to_string(i);
	big += "]";
	std::string converted = JsonArrayToPgArray(big);
	EXPECT_EQ(converted.size(), big.size());
	EXPECT_EQ(converted.substr(0, 6), "{0,1,2");
	EXPECT_EQ(JsonArrayToPgArray("[1]"), "{1}");
	// nested: a jsonb[] whose elements are parsed while the array is
	EXPECT_EQ(Bson(RawJson{R"(["[1, {\"a\": 2}]", "3"])"}, "jsonb[]"), R"({ "v" : [ [ 1, { "a" : 2 } ], 3 ] })");
}

TEST(JsonToBson, DollarKeysStayData) {
	// libbson's JSON reader would make {"$numberLong": "5"} an int64 and {"$oid": ...} an ObjectId
	EXPECT_EQ(Bson(RawJson{R"({"$numberLong": "5", "b": {"$oid": "64b7f0c2a1b2c3d4e5f60718"}})"}, "jsonb"),
			  "{ \"v\" : { \"\xEF\xBC\x84numberLong\" : \"5\", \"b\" : { \"\xEF\xBC\x84oid\" : "
			  "\"64b7f0c2a1b2c3d4e5f60718\" } } }");
	EXPECT_EQ(Bson(std::string(R"({"$date": 1})"), "jsonb"), "{ \"v\" : { \"\xEF\xBC\x84"
															 "date\" : 1 } }");
}

TEST(JsonToBson, NumbersIntegersExactElseDouble) {
	EXPECT_EQ(Bson(RawJson{"[1, 2147483648, 9223372036854775807, -9223372036854775808]"}, "jsonb"),
			  R"({ "v" : [ 1, 2147483648, 9223372036854775807, -9223372036854775808 ] })");
	BsonHandle doc = NewBson();
	MappingNotes notes;
	AppendMongoValue(doc.get(), "v", RawJson{"[9223372036854775808, 1.5, 1e2]"}, "jsonb", "v", notes);
	bson_iter_t iter;
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.0", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE); // beyond int64: a double, as before
	EXPECT_EQ(bson_iter_double(&iter), 9223372036854775808.0);
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.2", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE);
	// a JSON number in a numeric[] beyond int64 is a double, as before (the plugin sends numeric as strings)
	doc = NewBson();
	AppendMongoValue(doc.get(), "v", RawJson{"[12345678901234567890123456789012]"}, "numeric[]", "v", notes);
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.0", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE) << "a JSON number beyond int64 reads as a double";
}

TEST(JsonToBson, EscapesAndScalarRoots) {
	EXPECT_EQ(Bson(RawJson{R"({"a\u002eb": "\ud83d\ude00\u00e9\n"})"}, "jsonb"),
			  "{ \"v\" : { \"a\xEF\xBC\x8E"
			  "b\" : \"\xF0\x9F\x98\x80\xC3\xA9\\n\" } }");
	EXPECT_EQ(Bson(std::string(" \"x\" "), "jsonb"), R"({ "v" : "x" })");
	EXPECT_EQ(Bson(std::string("true"), "json"), R"({ "v" : true })");
	EXPECT_EQ(Bson(std::string("-12"), "json"), R"({ "v" : -12 })");
	EXPECT_EQ(Bson(RawJson{"[[], {}, [[]]]"}, "jsonb"), R"({ "v" : [ [  ], {  }, [ [  ] ] ] })");
	// a key holding NUL is refused (MongoFieldName)
	EXPECT_THROW(Bson(RawJson{R"({"a\u0000": 1})"}, "jsonb"), std::invalid_argument);
}

TEST(JsonToBson, MalformedIsAnError) {
	for (const char *bad : {"[1,2]]", "{\"a\":1} x", "5 x", "\"x\" y", "[tru]", "{\"a\" 1}", "[1,]", "nul", "",
							"\"\\ud83d\"", "{\"a\":"}) {
		BsonHandle doc = NewBson();
		MappingNotes notes;
		EXPECT_THROW(AppendMongoValue(doc.get(), "v", std::string(bad), "jsonb", "v", notes), std::runtime_error)
			<< bad;
	}
	try {
		BsonHandle doc = NewBson();
		AppendJsonAsBson(doc.get(), "col", "[1 2]");
		FAIL();
	} catch (const std::runtime_error &error) {
		EXPECT_NE(std::string(error.what()).find("column \"col\": invalid JSON"), std::string::npos) << error.what();
	}
}

TEST(JsonToBson, DeepNestingIsRefused) {
	std::string deep(150, '[');
	deep += std::string(150, ']');
	BsonHandle doc = NewBson();
	EXPECT_THROW(AppendJsonAsBson(doc.get(), "v", deep), std::runtime_error);
}

// A DDL message change around content.
ParsedChange
Ddl(const std::string &content) {
	return ParseChange(R"({"op":"message","transactional":true,"prefix":"mostajs.ddl","content":)" + content + "}");
}

TEST(DdlMessageJson, FillKeepsItsExactText) {
	std::optional<DdlMessage> message = ParseDdlMessage(Ddl(
		R"({"schema":"s","table":"t","columns":[{"name":"n","type":"numeric","fill":"123456789012345678901234567890.5"},)"
		R"({"name":"b","type":"bigint","fill": 9223372036854775807 },{"name":"j","type":"jsonb","fill":{"$x": [1, "\u00e9"]}},)"
		R"({"name":"f","type":"boolean","fill":false},{"name":"z","type":"text","fill":null}]})"));
	ASSERT_TRUE(message);
	ASSERT_EQ(message->columns.size(), 5u);
	EXPECT_EQ(message->columns[0].fill,
			  std::optional<Value>(Value(std::string_view("123456789012345678901234567890.5"))));
	EXPECT_EQ(message->columns[1].fill, std::optional<Value>(Value(std::int64_t{9223372036854775807})));
	ASSERT_TRUE(message->columns[2].fill);
	ASSERT_TRUE(std::holds_alternative<RawJson>(*message->columns[2].fill));
	EXPECT_EQ(std::string(std::get<RawJson>(*message->columns[2].fill).text), R"({"$x": [1, "\u00e9"]})");
	EXPECT_EQ(message->columns[3].fill, std::optional<Value>(Value(false)));
	EXPECT_FALSE(message->columns[4].fill);
}

TEST(DdlMessageJson, MembersInAnyOrderAndErrors) {
	std::optional<DdlMessage> message = ParseDdlMessage(
		Ddl(R"({"key":["id"],"columns":[{"type":"integer","nullable":false,"name":"id"}],"table":"t","schema":"s",)"
			R"("partition_root":{"table":"root","schema":"s"}})"));
	ASSERT_TRUE(message);
	EXPECT_EQ(message->columns[0].name, "id");
	EXPECT_FALSE(message->columns[0].nullable);
	EXPECT_EQ(message->key, std::vector<std::string>{"id"});
	ASSERT_TRUE(message->partition_root);
	EXPECT_EQ(message->partition_root->table, "root");
	EXPECT_THROW(ParseDdlMessage(Ddl(R"({"schema":"s","table":"t","columns":{}})")), std::runtime_error);
	try {
		ParseDdlMessage(Ddl(R"({"schema":"s","table":"t","columns":[{"name":"x"}]})"));
		ADD_FAILURE() << "a column without a type";
	} catch (const std::runtime_error &error) {
		EXPECT_NE(std::string(error.what()).find("no \"type\""), std::string::npos) << error.what();
	}
	EXPECT_THROW(ParseDdlMessage(Ddl(R"({"schema":"s","table":"t","columns":[],"key":[1]})")), std::runtime_error);
	EXPECT_THROW(ParseDdlMessage(Ddl(R"({"schema":5,"table":"t","columns":[]})")), std::runtime_error);
	EXPECT_THROW(ParseDdlMessage(Ddl(R"({"schema":"s","table":"t","columns":[],"partition_root":[]})")),
				 std::runtime_error);
	// dropped: nothing else is read
	std::optional<DdlMessage> dropped =
		ParseDdlMessage(Ddl(R"({"schema":"s","table":"t","dropped":true,"rewritten":true,"columns":5})"));
	ASSERT_TRUE(dropped);
	EXPECT_TRUE(dropped->dropped);
	EXPECT_FALSE(dropped->rewritten);
}

TEST(TypeDefinitionJson, CompactTextIsStableAndEscapedAsBefore) {
	TypeDefinition type = ParseTypeDefinition(
		"{ \"oid\" : 4294967295, \"type\": \"public.m\\u00e9\", \"schema\": \"public\", \"name\": \"m\\u00e9\","
		" \"kind\": \"enum\", \"labels\": [\"a\\\"b\", \"tab\\there\", \"\\u0001\", \"/\"] }");
	EXPECT_EQ(type.oid, 4294967295u);
	EXPECT_EQ(type.name, "m\xC3\xA9");
	EXPECT_EQ(type.labels, (std::vector<std::string>{"a\"b", "tab\there", "\x01", "/"}));
	EXPECT_EQ(type.json,
			  "{\"oid\":4294967295,\"type\":\"public.m\xC3\xA9\",\"schema\":\"public\",\"name\":\"m\xC3\xA9\","
			  "\"kind\":\"enum\",\"labels\":[\"a\\\"b\",\"tab\\there\",\"\\u0001\",\"/\"]}");
	EXPECT_EQ(ParseTypeDefinition(type.json).json, type.json) << "re-reading a record gives the same text";
	EXPECT_THROW(ParseTypeDefinition("{\"oid\":0,\"type\":\"x\",\"schema\":\"s\",\"name\":\"x\",\"kind\":\"enum\"}"),
				 std::runtime_error);
	EXPECT_THROW(ParseTypeDefinition("{\"oid\":1,\"type\":\"x\"} x"), std::runtime_error);
	EXPECT_THROW(ParseTypeDefinition("not json"), std::runtime_error);
}

} // namespace
} // namespace mosta::sidecar
