/*
 * verify_mongo_test.cpp
 *     BSON → canonical text for mosta-sidecar verify on MongoDB targets (app/verify_mongo.hpp), without a server:
 *     each value is mapped the way the sink writes it (sink/mongo_bson.hpp) and read back by the source column's
 *     type; Decimal128 exponent forms, dates, uuids, binaries, jsonb and arrays, field-name un-escaping and the key
 *     text of one-column and composite _id.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include "app/verify_mongo.hpp"
#include "decode/change.hpp"
#include "mosta/common/canonical_row.hpp"
#include "sink/mongo_bson.hpp"

namespace mosta::sidecar {
namespace {

// RoundTrip maps value by include-types' type name, then reads it back as a column of base type base.
std::optional<std::string>
RoundTrip(const Value &value, const std::string &type, const std::string &base) {
	BsonHandle doc = NewBson();
	MappingNotes notes;
	AppendMongoValue(doc.get(), "v", value, type, "v", notes);
	bson_iter_t iter;
	EXPECT_TRUE(bson_iter_init_find(&iter, doc.get(), "v"));
	return BsonCanonicalText(&iter, base);
}

std::optional<std::string>
RoundTrip(const Value &value, const std::string &type) {
	return RoundTrip(value, type, type);
}

// Decimal reads the Decimal128 of text as a numeric column.
std::string
Decimal(const char *text) {
	bson_decimal128_t decimal;
	EXPECT_TRUE(bson_decimal128_from_string(text, &decimal)) << text;
	BsonHandle doc = NewBson();
	bson_append_decimal128(doc.get(), "v", 1, &decimal);
	bson_iter_t iter;
	EXPECT_TRUE(bson_iter_init_find(&iter, doc.get(), "v"));
	return BsonCanonicalText(&iter, "numeric").value_or("(null)");
}

TEST(VerifyMongoTest, Integers) {
	EXPECT_EQ(RoundTrip(std::int64_t{42}, "integer"), "42");
	EXPECT_EQ(RoundTrip(std::int64_t{-7}, "smallint"), "-7");
	EXPECT_EQ(RoundTrip(std::int64_t{9223372036854775807}, "bigint"), "9223372036854775807");
	EXPECT_EQ(RoundTrip(std::int64_t{4294967295}, "oid"), "4294967295");
}

TEST(VerifyMongoTest, NumericKeepsItsScale) {
	EXPECT_EQ(RoundTrip(std::string("12.50"), "numeric(12,2)", "numeric"), "12.50");
	EXPECT_EQ(RoundTrip(std::string("-0.001"), "numeric"), "-0.001");
	EXPECT_EQ(RoundTrip(std::string("0.0000001"), "numeric"), "0.0000001");
	EXPECT_EQ(RoundTrip(std::string("1000"), "numeric"), "1000");
	EXPECT_EQ(RoundTrip(std::string("0.00"), "numeric"), "0.00");
	EXPECT_EQ(RoundTrip(std::string("NaN"), "numeric"), "NaN");
	EXPECT_EQ(RoundTrip(std::string("Infinity"), "numeric"), "Infinity");
	EXPECT_EQ(RoundTrip(std::string("-Infinity"), "numeric"), "-Infinity");
	// more than 34 digits: kept as the string by the sink, read back as is
	const std::string long_value = "1234567890123456789012345678901234567890.5";
	EXPECT_EQ(RoundTrip(long_value, "numeric"), long_value);
}

TEST(VerifyMongoTest, Decimal128ExponentFormsAreNormalised) {
	EXPECT_EQ(Decimal("1.00E+3"), "1000");
	EXPECT_EQ(Decimal("1E+2"), "100");
	EXPECT_EQ(Decimal("1E-7"), "0.0000001");
	EXPECT_EQ(Decimal("-1.5E-8"), "-0.000000015");
	EXPECT_EQ(Decimal("-0"), "0");
	EXPECT_EQ(Decimal("-0.00"), "0.00");
	EXPECT_EQ(Decimal("123.4500"), "123.4500");
	EXPECT_EQ(Decimal("0E-10"), "0.0000000000");
}

TEST(VerifyMongoTest, FloatsPrintAsPostgreSQL) {
	EXPECT_EQ(RoundTrip(0.1, "double precision"), "0.1");
	EXPECT_EQ(RoundTrip(1e20, "double precision"), "1e+20");
	EXPECT_EQ(RoundTrip(1e-05, "double precision"), "1e-05");
	EXPECT_EQ(RoundTrip(std::int64_t{1}, "double precision"), "1");
	EXPECT_EQ(RoundTrip(std::string("NaN"), "double precision"), "NaN");
	EXPECT_EQ(RoundTrip(std::string("-Infinity"), "double precision"), "-Infinity");
	EXPECT_EQ(RoundTrip(3.14, "real"), FormatPgFloat4(3.14f));
}

TEST(VerifyMongoTest, BooleanTextUuidBytea) {
	EXPECT_EQ(RoundTrip(true, "boolean"), "true");
	EXPECT_EQ(RoundTrip(false, "boolean"), "false");
	EXPECT_EQ(RoundTrip(std::string(""), "text"), "");
	EXPECT_EQ(RoundTrip(std::string("x  "), "character(3)", "character"), "x  ");
	EXPECT_EQ(RoundTrip(std::monostate{}, "text"), std::nullopt);
	EXPECT_EQ(BsonCanonicalText(nullptr, "text"), std::nullopt);
	EXPECT_EQ(RoundTrip(std::string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid"),
			  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
	EXPECT_EQ(RoundTrip(std::string("\\x00ff10"), "bytea"), "\\x00ff10");
	EXPECT_EQ(RoundTrip(std::string("\\x"), "bytea"), "\\x");
	EXPECT_EQ(RoundTrip(std::string("P1Y2M"), "interval"), "P1Y2M");
}

TEST(VerifyMongoTest, DatesAsThePluginWritesThem) {
	EXPECT_EQ(RoundTrip(std::string("2024-05-01T10:30:00.25+00:00"), "timestamp with time zone"),
			  "2024-05-01T10:30:00.25+00:00");
	EXPECT_EQ(RoundTrip(std::string("2024-05-01T10:30:00+00:00"), "timestamp with time zone"),
			  "2024-05-01T10:30:00+00:00");
	EXPECT_EQ(RoundTrip(std::string("2024-05-01T10:30:00.123+00:00"), "timestamp with time zone"),
			  "2024-05-01T10:30:00.123+00:00");
	EXPECT_EQ(RoundTrip(std::string("2024-05-01T12:30:00"), "timestamp without time zone"), "2024-05-01T12:30:00");
	EXPECT_EQ(RoundTrip(std::string("2024-05-01"), "date"), "2024-05-01");
	EXPECT_EQ(RoundTrip(std::string("-0043-03-15T12:00:00+00:00"), "timestamp with time zone"),
			  "-0043-03-15T12:00:00+00:00");
	EXPECT_EQ(RoundTrip(std::string("-0043-03-15"), "date"), "-0043-03-15");
	EXPECT_EQ(RoundTrip(std::string("1969-12-31T23:59:59.999+00:00"), "timestamp with time zone"),
			  "1969-12-31T23:59:59.999+00:00");
	EXPECT_EQ(RoundTrip(std::string("10000-01-01T00:00:00"), "timestamp without time zone"), "10000-01-01T00:00:00");
	EXPECT_EQ(RoundTrip(std::string("infinity"), "timestamp with time zone"), "infinity");
	// microseconds are lost in MongoDB: the value read back differs from the source's (a mismatch, by design)
	EXPECT_EQ(RoundTrip(std::string("2024-05-01T10:30:00.123456+00:00"), "timestamp with time zone"),
			  "2024-05-01T10:30:00.123+00:00");
}

TEST(VerifyMongoTest, JsonbAsJsonbPrintsIt) {
	EXPECT_EQ(RoundTrip(RawJson{R"({"a": null, "b": [1, "x"]})"}, "jsonb"), R"({"a": null, "b": [1, "x"]})");
	EXPECT_EQ(RoundTrip(RawJson{R"({"i": 1, "list": [1.5, "x", null], "a.b": {"$k": true}})"}, "jsonb"),
			  R"({"i": 1, "list": [1.5, "x", null], "a.b": {"$k": true}})");
	EXPECT_EQ(RoundTrip(RawJson{R"([])"}, "jsonb"), "[]");
	EXPECT_EQ(RoundTrip(RawJson{R"({})"}, "jsonb"), "{}");
	EXPECT_EQ(RoundTrip(RawJson{R"({"big": 9223372036854775807, "e": 100000000000000000000})"}, "jsonb"),
			  R"({"big": 9223372036854775807, "e": 100000000000000000000})");
	EXPECT_EQ(RoundTrip(RawJson{R"({"s": "tab\t\"q\""})"}, "jsonb"), R"({"s": "tab\t\"q\""})");
	EXPECT_EQ(RoundTrip(std::string("\"a string\""), "jsonb"), "\"a string\"");
	// format version 2: the JSON null is a value, apart from SQL NULL (a missing field)
	EXPECT_EQ(RoundTrip(std::string("null"), "jsonb"), "null");
	EXPECT_EQ(RoundTrip(std::string(R"({"a": null})"), "jsonb"), R"({"a": null})");
	EXPECT_EQ(BsonCanonicalText(nullptr, "jsonb"), std::nullopt);
	// jsonb[] elements are strings of jsonb text; a JSON null element reads as SQL NULL (BSON keeps one null)
	EXPECT_EQ(RoundTrip(RawJson{R"(["{\"a\": 1}",null,"null","[1, \"x\"]"])"}, "jsonb[]"),
			  R"(["{\"a\": 1}",null,null,"[1, \"x\"]"])");
	// 1.50 is a double in BSON: its trailing zero is gone (a mismatch, documented)
	EXPECT_EQ(RoundTrip(RawJson{R"([1.50])"}, "jsonb"), "[1.5]");
	EXPECT_TRUE(MongoVerifyExcluded("json"));
	EXPECT_TRUE(MongoVerifyExcluded("json[]"));
	EXPECT_FALSE(MongoVerifyExcluded("jsonb"));
}

TEST(VerifyMongoTest, ArraysAsThePluginEmbedsThem) {
	EXPECT_EQ(RoundTrip(RawJson{"[1,null,3]"}, "integer[]"), "[1,null,3]");
	EXPECT_EQ(RoundTrip(RawJson{"[]"}, "integer[]"), "[]");
	EXPECT_EQ(RoundTrip(RawJson{R"([["a","b"],["c","d e"]])"}, "text[]"), R"([["a","b"],["c","d e"]])");
	EXPECT_EQ(RoundTrip(RawJson{R"(["1.50",null,"2"])"}, "numeric[]"), R"(["1.50",null,"2"])");
	EXPECT_EQ(RoundTrip(RawJson{R"([true,false])"}, "boolean[]"), "[true,false]");
	EXPECT_EQ(RoundTrip(RawJson{R"([0.1,1e+20,"NaN"])"}, "double precision[]"), R"([0.1,1e+20,"NaN"])");
	EXPECT_EQ(RoundTrip(RawJson{R"(["2024-05-01T10:30:00.5+00:00"])"}, "timestamp with time zone[]"),
			  R"(["2024-05-01T10:30:00.5+00:00"])");
	EXPECT_EQ(RoundTrip(RawJson{R"(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])"}, "uuid[]"),
			  R"(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])");
	EXPECT_EQ(RoundTrip(RawJson{R"(["\\x00ff"])"}, "bytea[]"), R"(["\\x00ff"])");
}

TEST(VerifyMongoTest, FieldNamesAreUnescaped) {
	EXPECT_EQ(UnescapeMongoFieldName(MongoFieldName("a.b.c")), "a.b.c");
	EXPECT_EQ(UnescapeMongoFieldName(MongoFieldName("$x$")), "$x$");
	EXPECT_EQ(UnescapeMongoFieldName("plain"), "plain");
}

// Encoded returns the canonical encoding of columns given as (name, text) pairs.
std::string
Encoded(std::vector<CanonicalColumn> columns) {
	return EncodeCanonicalRow(std::move(columns));
}

TEST(VerifyMongoTest, DocumentRowAndOneColumnKey) {
	BsonHandle doc = NewBson();
	BSON_APPEND_INT32(doc.get(), "_id", 5);
	BSON_APPEND_INT32(doc.get(), "id", 5);
	BSON_APPEND_UTF8(doc.get(), MongoFieldName("a.b").c_str(), "x");
	BSON_APPEND_NULL(doc.get(), "n");
	BSON_APPEND_UTF8(doc.get(), "extra", "ignored");
	std::vector<VerifyColumn> columns{{"id", "integer"}, {"a.b", "text"}, {"n", "text"}, {"gone", "text"}};
	MongoRow row = MongoDocumentRow(doc.get(), columns, {"id"});
	EXPECT_EQ(row.key, "5");
	EXPECT_EQ(row.encoded, Encoded({{"id", "5"}, {"a.b", "x"}, {"n", std::nullopt}, {"gone", std::nullopt}}));
	// the test vector of docs/verification.md
	BsonHandle simple = NewBson();
	BSON_APPEND_INT32(simple.get(), "_id", 1);
	BSON_APPEND_INT32(simple.get(), "id", 1);
	BSON_APPEND_UTF8(simple.get(), "name", "a");
	MongoRow vector = MongoDocumentRow(simple.get(), {{"id", "integer"}, {"name", "text"}}, {"id"});
	char hex[kHash128HexSize + 1];
	FormatHash128(CanonicalRowHash(vector.encoded.data(), vector.encoded.size()), hex);
	EXPECT_STREQ(hex, "bc0d59ef10bf443ade6ff6b25bdf13b7");
}

TEST(VerifyMongoTest, ColumnNamedIdAndCompositeKey) {
	BsonHandle doc = NewBson();
	BSON_APPEND_UTF8(doc.get(), "_id", "k,1");
	BSON_APPEND_INT32(doc.get(), "v", 2);
	MongoRow row = MongoDocumentRow(doc.get(), {{"_id", "text"}, {"v", "integer"}}, {"_id"});
	EXPECT_EQ(row.key, "k\\,1");
	EXPECT_EQ(row.encoded, Encoded({{"_id", "k,1"}, {"v", "2"}}));

	BsonHandle composite(BCON_NEW("_id", "{", "order_id", BCON_INT32(7), "line", BCON_INT32(2), "}", "order_id",
								  BCON_INT32(7), "line", BCON_INT32(2), "note", BCON_UTF8("n")));
	std::vector<VerifyColumn> columns{{"order_id", "integer"}, {"line", "integer"}, {"note", "text"}};
	MongoRow line = MongoDocumentRow(composite.get(), columns, {"order_id", "line"});
	EXPECT_EQ(line.key, "7,2");
	EXPECT_EQ(line.encoded, Encoded({{"order_id", "7"}, {"line", "2"}, {"note", "n"}}));

	// key columns missing from the fields are read from _id
	BsonHandle only_id(BCON_NEW("_id", "{", "order_id", BCON_INT32(8), "line", BCON_INT32(1), "}"));
	MongoRow bare = MongoDocumentRow(only_id.get(), columns, {"order_id", "line"});
	EXPECT_EQ(bare.key, "8,1");
	EXPECT_EQ(bare.encoded, Encoded({{"order_id", "8"}, {"line", "1"}, {"note", std::nullopt}}));

	// a document whose _id is not the composite key's document is shown by its _id
	BsonHandle stray(BCON_NEW("_id", BCON_INT32(777)));
	EXPECT_EQ(MongoDocumentRow(stray.get(), columns, {"order_id", "line"}).key, "777");
}

// A mapped mirror (mosta_mapping=FILE) holds the legacy shape: verify does not compare it and says what does; the
// refusal comes before the driver sees the URI.
TEST(VerifyMongo, AMappedMirrorIsNotComparedAndNamesMostaMigrateVerify) {
	EXPECT_EQ(MappedMirrorMapping("mongodb://h/shop?w=1"), "");
	EXPECT_EQ(MappedMirrorMapping("mongodb://h/shop?w=1&mosta_mapping=/etc/mosta/shop.mapping.json"),
			  "/etc/mosta/shop.mapping.json");
	EXPECT_THROW(MappedMirrorMapping("mongodb://h/shop?mosta_mapping="), MongoVerifyError);
	try {
		MongoVerifyTarget target("mongodb://127.0.0.1:1/shop?mosta_mapping=/etc/mosta/shop.mapping.json", "shop");
		FAIL() << "a mapped mirror was opened for the comparison";
	} catch (const MongoVerifyError &e) {
		std::string what = e.what();
		EXPECT_NE(what.find("does not verify mapped mirrors"), std::string::npos) << what;
		EXPECT_NE(what.find("mosta-migrate verify /etc/mosta/shop.mapping.json"), std::string::npos) << what;
	}
}

} // namespace
} // namespace mosta::sidecar
