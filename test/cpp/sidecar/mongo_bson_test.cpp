/*
 * mongo_bson_test.cpp
 *     The Change → BSON mapping of the MongoDB sink (sink/mongo_bson.hpp, docs/mongodb.md), without a server: every
 *     type, the lossy cases that are noted, field-name escaping and the _id of one-column, composite and missing
 *     keys.
 */
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "decode/change.hpp"
#include "sink/mongo_bson.hpp"

namespace mosta::sidecar {
namespace {

// One iterator on field of doc, or a test failure.
bson_iter_t
Field(const bson_t *doc, const char *field) {
	bson_iter_t iter;
	EXPECT_TRUE(bson_iter_init_find(&iter, doc, field)) << field << " in " << BsonToRelaxedJson(doc);
	return iter;
}

// Mapped returns {v: value} mapped by type, and its notes.
BsonHandle
Mapped(const Value &value, const std::string &type, MappingNotes *notes_out = nullptr) {
	BsonHandle doc = NewBson();
	MappingNotes notes;
	AppendMongoValue(doc.get(), "v", value, type, "v", notes);
	if (notes_out != nullptr)
		*notes_out = notes;
	else
		EXPECT_TRUE(notes.empty()) << type << ": " << (notes.empty() ? "" : notes[0].what);
	return doc;
}

std::string
Json(const Value &value, const std::string &type) {
	return BsonToRelaxedJson(Mapped(value, type).get());
}

TEST(MongoBson, Integers) {
	BsonHandle small = Mapped(std::int64_t{-7}, "smallint");
	bson_iter_t iter = Field(small.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT32);
	EXPECT_EQ(bson_iter_int32(&iter), -7);
	BsonHandle integer = Mapped(std::int64_t{2147483647}, "integer");
	iter = Field(integer.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT32);
	BsonHandle big = Mapped(std::int64_t{9223372036854775807}, "bigint");
	iter = Field(big.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT64);
	EXPECT_EQ(bson_iter_int64(&iter), 9223372036854775807);
	BsonHandle small_big = Mapped(std::int64_t{1}, "bigint");
	iter = Field(small_big.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT64); // bigint stays int64 whatever its value
	BsonHandle oid = Mapped(std::int64_t{4294967295}, "oid");
	iter = Field(oid.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT64);
	// a domain over int: unknown type name, mapped by the JSON form
	BsonHandle domain = Mapped(std::int64_t{7}, "public.qty");
	iter = Field(domain.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT64);
}

TEST(MongoBson, NumericAsDecimal128) {
	BsonHandle doc = Mapped(std::string("12.500"), "numeric(10,3)");
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_DECIMAL128);
	bson_decimal128_t decimal;
	ASSERT_TRUE(bson_iter_decimal128(&iter, &decimal));
	char text[BSON_DECIMAL128_STRING];
	bson_decimal128_to_string(&decimal, text);
	EXPECT_STREQ(text, "12.500"); // the scale is kept
	BsonHandle nan = Mapped(std::string("NaN"), "numeric");
	iter = Field(nan.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DECIMAL128);
	// 34 significant digits fit, leading zeros do not count
	BsonHandle full = Mapped(std::string("-0.0001234567890123456789012345678901234"), "numeric");
	iter = Field(full.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DECIMAL128);
}

TEST(MongoBson, NumericTooWideIsAStringAndNoted) {
	std::string wide = "12345678901234567890123456789012345.5"; // 36 digits
	MappingNotes notes;
	BsonHandle doc = Mapped(wide, "numeric", &notes);
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_UTF8);
	EXPECT_EQ(std::string(bson_iter_utf8(&iter, nullptr)), wide);
	ASSERT_EQ(notes.size(), 1U);
	EXPECT_EQ(notes[0].column, "v");
	EXPECT_NE(notes[0].what.find("Decimal128"), std::string::npos);
	// out of Decimal128's exponent range
	std::string tiny = "0." + std::string(7000, '0') + "1";
	notes.clear();
	doc = Mapped(tiny, "numeric", &notes);
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_UTF8);
	EXPECT_EQ(notes.size(), 1U);
}

TEST(MongoBson, Floats) {
	BsonHandle doc = Mapped(0.1, "double precision");
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE);
	EXPECT_EQ(bson_iter_double(&iter), 0.1);
	doc = Mapped(std::int64_t{3}, "real");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE);
	doc = Mapped(std::string("-Infinity"), "real");
	iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE);
	EXPECT_TRUE(std::isinf(bson_iter_double(&iter)) && bson_iter_double(&iter) < 0);
	doc = Mapped(std::string("NaN"), "double precision");
	iter = Field(doc.get(), "v");
	EXPECT_TRUE(std::isnan(bson_iter_double(&iter)));
}

TEST(MongoBson, BoolTextNullEnum) {
	EXPECT_EQ(Json(true, "boolean"), R"({ "v" : true })");
	EXPECT_EQ(Json(std::string("tab\t\"q\" é"), "text"), R"({ "v" : "tab\t\"q\" é" })");
	EXPECT_EQ(Json(std::monostate{}, "integer"), R"({ "v" : null })");
	EXPECT_EQ(Json(std::string("happy"), "public.mood"), R"({ "v" : "happy" })");
	EXPECT_EQ(Json(std::string("P1Y2M3DT4H5M6.5S"), "interval"), R"({ "v" : "P1Y2M3DT4H5M6.5S" })");
	EXPECT_EQ(Json(std::string("x  "), "character(3)"), R"({ "v" : "x  " })");
}

TEST(MongoBson, TimestampsToMilliseconds) {
	BsonHandle doc = Mapped(std::string("2024-05-01T10:30:00.5+00:00"), "timestamp with time zone");
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_DATE_TIME);
	EXPECT_EQ(bson_iter_date_time(&iter), 1714559400500);
	doc = Mapped(std::string("2024-05-01T12:30:00"), "timestamp without time zone");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_date_time(&iter), 1714566600000);
	doc = Mapped(std::string("2024-05-01T12:30:00+02:00"), "timestamp(3) with time zone");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_date_time(&iter), 1714559400000);
	// astronomical year 0 is 1 BC; before the epoch is negative
	doc = Mapped(std::string("1969-12-31T23:59:59.999+00:00"), "timestamp with time zone");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_date_time(&iter), -1);
	doc = Mapped(std::string("-0043-03-15T12:00:00+00:00"), "timestamp with time zone");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DATE_TIME);
	EXPECT_LT(bson_iter_date_time(&iter), -62135596800000); // before 0001-01-01
}

TEST(MongoBson, TimestampMicrosecondsTruncatedAndNoted) {
	MappingNotes notes;
	BsonHandle doc = Mapped(std::string("2024-05-01T10:30:00.123456+00:00"), "timestamp with time zone", &notes);
	bson_iter_t iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_date_time(&iter), 1714559400123);
	ASSERT_EQ(notes.size(), 1U);
	EXPECT_NE(notes[0].what.find("milliseconds"), std::string::npos);
	// trailing zeros below the millisecond lose nothing
	notes.clear();
	doc = Mapped(std::string("2024-05-01T10:30:00.123000+00:00"), "timestamp with time zone", &notes);
	EXPECT_TRUE(notes.empty());
}

TEST(MongoBson, InfiniteTimestampIsAStringAndNoted) {
	MappingNotes notes;
	BsonHandle doc = Mapped(std::string("infinity"), "timestamp with time zone", &notes);
	bson_iter_t iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_UTF8);
	EXPECT_EQ(notes.size(), 1U);
}

TEST(MongoBson, Dates) {
	BsonHandle doc = Mapped(std::string("2024-05-01"), "date");
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_DATE_TIME);
	EXPECT_EQ(bson_iter_date_time(&iter), 1714521600000);
	doc = Mapped(std::string("1970-01-01"), "date");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_date_time(&iter), 0);
	doc = Mapped(std::string("2000-03-01"), "date");
	iter = Field(doc.get(), "v");
	EXPECT_EQ(bson_iter_date_time(&iter), 951868800000);
}

TEST(MongoBson, UuidIsBinarySubtype4) {
	BsonHandle doc = Mapped(std::string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "uuid");
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_BINARY);
	bson_subtype_t subtype;
	std::uint32_t length = 0;
	const std::uint8_t *bytes = nullptr;
	bson_iter_binary(&iter, &subtype, &length, &bytes);
	EXPECT_EQ(subtype, BSON_SUBTYPE_UUID);
	ASSERT_EQ(length, 16U);
	EXPECT_EQ(bytes[0], 0xa0);
	EXPECT_EQ(bytes[15], 0x11);
}

TEST(MongoBson, ByteaIsBinary) {
	BsonHandle doc = Mapped(std::string("\\x00ff10"), "bytea");
	bson_iter_t iter = Field(doc.get(), "v");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_BINARY);
	bson_subtype_t subtype;
	std::uint32_t length = 0;
	const std::uint8_t *bytes = nullptr;
	bson_iter_binary(&iter, &subtype, &length, &bytes);
	EXPECT_EQ(subtype, BSON_SUBTYPE_BINARY);
	ASSERT_EQ(length, 3U);
	EXPECT_EQ(std::memcmp(bytes, "\x00\xff\x10", 3), 0);
}

TEST(MongoBson, JsonEmbedded) {
	EXPECT_EQ(Json(RawJson{R"({"a": null, "b": [1, "x"], "c": {"d": 1.5, "e": true}})"}, "jsonb"),
			  R"({ "v" : { "a" : null, "b" : [ 1, "x" ], "c" : { "d" : 1.5, "e" : true } } })");
	EXPECT_EQ(Json(RawJson{R"([1, 2])"}, "json"), R"({ "v" : [ 1, 2 ] })");
	// json numbers: int32, int64 (exact), double; escapes decoded
	BsonHandle doc =
		Mapped(RawJson{R"({"i": 1, "l": 9007199254740993, "d": 1e300, "s": "\u00e9\ud83d\ude00\n"})"}, "json");
	bson_iter_t iter;
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.i", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT32);
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.l", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT64);
	EXPECT_EQ(bson_iter_int64(&iter), 9007199254740993);
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.d", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DOUBLE);
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.s", &iter));
	EXPECT_EQ(std::string(bson_iter_utf8(&iter, nullptr)), "\xC3\xA9\xF0\x9F\x98\x80\n");
	// a version-1 json scalar arrives as a plain value
	EXPECT_EQ(Json(std::int64_t{3}, "json"), R"({ "v" : 3 })");
}

// Format version 2: a json or jsonb value is a string of its JSON text, parsed and embedded; the JSON null is BSON
// null, SQL NULL of a json column no field at all; json[] elements are texts too.
TEST(MongoBson, JsonTextOfFormatVersion2) {
	EXPECT_EQ(Json(std::string(R"({"a": null, "b": [1, "x"]})"), "jsonb"),
			  R"({ "v" : { "a" : null, "b" : [ 1, "x" ] } })");
	EXPECT_EQ(Json(std::string("null"), "jsonb"), R"({ "v" : null })");
	EXPECT_EQ(Json(std::string("\"x\""), "jsonb"), R"({ "v" : "x" })");
	EXPECT_EQ(Json(std::string(" 3 "), "json"), R"({ "v" : 3 })");
	EXPECT_EQ(Json(RawJson{R"(["null",null,"{\"a\": [null]}","\"s\""])"}, "jsonb[]"),
			  R"({ "v" : [ null, null, { "a" : [ null ] }, "s" ] })");
	Change change;
	change.relation = std::make_shared<const mosta::sidecar::RelationSchema>(
		0, "public", "t", std::vector<std::string>{"id"}, mosta::sidecar::ReplicaIdentity::Unknown,
		std::vector<mosta::sidecar::RelationColumn>{
			{"id", "integer"}, {"j", "jsonb"}, {"k", "json"}, {"t", "text"}, {"a", "jsonb[]"}});
	std::vector<Column> row{{"id", std::int64_t{1}},
							{"j", std::monostate()},
							{"k", std::string_view("null")},
							{"t", std::monostate()},
							{"a", std::monostate()}};
	MappingNotes notes;
	EXPECT_EQ(BsonToRelaxedJson(MongoRowDocument(change, row, notes).get()),
			  R"({ "_id" : 1, "id" : 1, "k" : null, "t" : null, "a" : null })");
	EXPECT_TRUE(MongoOmitsColumn(change, row[1]));
	EXPECT_FALSE(MongoOmitsColumn(change, row[2]));
	EXPECT_FALSE(MongoOmitsColumn(change, row[3]));
	EXPECT_FALSE(MongoOmitsColumn(change, row[4]));
}

TEST(MongoBson, JsonKeysWithDotsAndDollars) {
	EXPECT_EQ(Json(RawJson{R"({"a.b": 1, "$set": 2, "x$": 3})"}, "jsonb"),
			  "{ \"v\" : { \"a\xEF\xBC\x8E"
			  "b\" : 1, \"\xEF\xBC\x84set\" : 2, \"x$\" : 3 } }");
}

TEST(MongoBson, JsonEmptyKeyIsRefused) {
	// the sink turns the driver's client-side validation off, so the mapping itself refuses what it refused
	BsonHandle doc = NewBson();
	MappingNotes notes;
	try {
		AppendMongoValue(doc.get(), "v", RawJson{R"({"a": {"": 1}})"}, "jsonb", "payload", notes);
		FAIL() << "an empty JSON key was mapped";
	} catch (const std::runtime_error &error) {
		EXPECT_NE(std::string(error.what()).find("\"payload\": a JSON object has an empty key"), std::string::npos)
			<< error.what();
	}
}

TEST(MongoBson, InvalidJsonThrows) {
	BsonHandle doc = NewBson();
	MappingNotes notes;
	EXPECT_THROW(AppendMongoValue(doc.get(), "v", RawJson{R"({"a": )"}, "jsonb", "v", notes), std::runtime_error);
	BsonHandle other = NewBson();
	EXPECT_THROW(AppendMongoValue(other.get(), "v", RawJson{R"([1 2])"}, "jsonb", "v", notes), std::runtime_error);
}

TEST(MongoBson, ArraysMapTheirElements) {
	EXPECT_EQ(Json(RawJson{"[1,null,3]"}, "integer[]"), R"({ "v" : [ 1, null, 3 ] })");
	EXPECT_EQ(Json(RawJson{R"([["a","b"],["c","d e"]])"}, "text[]"), R"({ "v" : [ [ "a", "b" ], [ "c", "d e" ] ] })");
	EXPECT_EQ(Json(RawJson{"[]"}, "integer[]"), R"({ "v" : [  ] })");
	// elements by their type: numeric → Decimal128, timestamptz → date, uuid → binary
	BsonHandle doc = Mapped(RawJson{R"(["1.50", "2"])"}, "numeric(5,2)[]");
	bson_iter_t iter;
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.0", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DECIMAL128);
	doc = Mapped(RawJson{R"(["2024-05-01T10:30:00.5+00:00"])"}, "timestamp with time zone[]");
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.0", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_DATE_TIME);
	EXPECT_EQ(bson_iter_date_time(&iter), 1714559400500);
	doc = Mapped(RawJson{R"(["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"])"}, "uuid[]");
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.0", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_BINARY);
	doc = Mapped(RawJson{R"([9223372036854775807])"}, "bigint[]");
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "v.0", &iter));
	EXPECT_EQ(bson_iter_type(&iter), BSON_TYPE_INT64);
	// jsonb[]: elements are embedded documents
	EXPECT_EQ(Json(RawJson{R"([{"a": 1}, [2]])"}, "jsonb[]"), R"({ "v" : [ { "a" : 1 }, [ 2 ] ] })");
}

TEST(MongoBson, FieldNames) {
	EXPECT_EQ(MongoFieldName("plain"), "plain");
	EXPECT_EQ(MongoFieldName("a.b.c"), "a\xEF\xBC\x8E"
									   "b\xEF\xBC\x8E"
									   "c");
	EXPECT_EQ(MongoFieldName("$x$"), "\xEF\xBC\x84x$");
	EXPECT_THROW(MongoFieldName(std::string("a\0b", 3)), std::invalid_argument);
}

TEST(MongoBson, CollectionNames) {
	EXPECT_EQ(MongoCollectionName("public", "items"), "items");
	EXPECT_EQ(MongoCollectionName("s2", "events"), "s2.events");
	EXPECT_EQ(MongoCollectionName("public", "Order Lines"), "Order Lines");
}

mosta::sidecar::ParsedChange
RowChange(const char *document) {
	return ParseChange(document);
}

TEST(MongoBson, RowDocumentWithSingleKey) {
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":5,"a.b":"x","n":"1.5"},)"
				  R"("types":{"id":"integer","a.b":"text","n":"numeric"}})");
	MappingNotes notes;
	BsonHandle doc = MongoRowDocument(change, change->new_row, notes);
	EXPECT_EQ(BsonToRelaxedJson(doc.get()), "{ \"_id\" : 5, \"id\" : 5, \"a\xEF\xBC\x8E"
											"b\" : \"x\", \"n\" : { \"$numberDecimal\" : \"1.5\" } }");
	BsonHandle filter = MongoIdFilter(change, change->new_row, notes);
	EXPECT_EQ(BsonToRelaxedJson(filter.get()), R"({ "_id" : 5 })");
}

TEST(MongoBson, DeclaredColumnsMapAsTheirTypeNames) {
	// the decoder points each column at its relation column (type classified once); a row without those pointers
	// is mapped by looking the names up, and both give the same document
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"insert","schema":"public","table":"t","key":["id"],)"
				  R"("new":{"id":5,"n":"1.5","j":null,"at":"2024-05-01T10:30:00+00:00"},)"
				  R"js("types":{"id":"integer","n":"numeric(5,2)","j":"jsonb","at":"timestamp with time zone"}})js");
	for (const Column &column : change->new_row) {
		ASSERT_NE(column.declared, nullptr) << column.name;
		EXPECT_EQ(column.declared->name, column.name);
	}
	EXPECT_EQ(change->new_row[1].declared->classified.info->kind, PgTypeKind::Numeric);
	std::vector<Column> undeclared = change->new_row;
	for (Column &column : undeclared)
		column.declared = nullptr;
	MappingNotes notes;
	std::string declared_json = BsonToRelaxedJson(MongoRowDocument(change, change->new_row, notes).get());
	EXPECT_EQ(declared_json, BsonToRelaxedJson(MongoRowDocument(change, undeclared, notes).get()));
	EXPECT_EQ(
		declared_json,
		R"({ "_id" : 5, "id" : 5, "n" : { "$numberDecimal" : "1.5" }, "at" : { "$date" : "2024-05-01T10:30:00Z" } })");
	EXPECT_TRUE(MongoOmitsColumn(change, change->new_row[2]));
	EXPECT_TRUE(MongoOmitsColumn(change, undeclared[2]));
}

TEST(MongoBson, CompositeKeyIsAnEmbeddedDocument) {
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"insert","schema":"public","table":"Order Lines","key":["order_id","line"],)"
				  R"("new":{"line":2,"order_id":7,"note":"n"},"types":{"order_id":"integer","line":"integer"}})");
	MappingNotes notes;
	BsonHandle doc = MongoRowDocument(change, change->new_row, notes);
	EXPECT_EQ(BsonToRelaxedJson(doc.get()),
			  R"({ "_id" : { "order_id" : 7, "line" : 2 }, "line" : 2, "order_id" : 7, "note" : "n" })");
}

TEST(MongoBson, UuidKeyIsBinaryId) {
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"delete","schema":"public","table":"u","key":["id"],)"
				  R"("old":{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},"types":{"id":"uuid"}})");
	MappingNotes notes;
	BsonHandle filter = MongoIdFilter(change, change->old_row, notes);
	bson_iter_t iter = Field(filter.get(), "_id");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_BINARY);
	bson_subtype_t subtype;
	std::uint32_t length = 0;
	const std::uint8_t *bytes = nullptr;
	bson_iter_binary(&iter, &subtype, &length, &bytes);
	EXPECT_EQ(subtype, BSON_SUBTYPE_UUID);
}

TEST(MongoBson, UuidKeyMappedFromAnObjectIdKeepsTheObjectId) {
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"insert","schema":"public","table":"users","key":["id"],)"
				  R"("new":{"id":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","n":1},"types":{"id":"uuid"}})");
	MappingNotes notes;
	std::string asked;
	LegacyObjectId legacy = [&asked](const Change &of, const std::string &uuid) -> std::optional<std::string> {
		asked = of.Table() + " " + uuid;
		return "507f1f77bcf86cd799439011";
	};
	BsonHandle doc = MongoRowDocument(change, change->new_row, notes, legacy);
	EXPECT_EQ(asked, "users a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
	bson_iter_t iter = Field(doc.get(), "_id");
	ASSERT_EQ(bson_iter_type(&iter), BSON_TYPE_OID);
	char hex[25];
	bson_oid_to_string(bson_iter_oid(&iter), hex);
	EXPECT_STREQ(hex, "507f1f77bcf86cd799439011");
	// not mapped: the uuid itself
	LegacyObjectId none = [](const Change &, const std::string &) -> std::optional<std::string> { return {}; };
	BsonHandle filter = MongoIdFilter(change, change->new_row, notes, none);
	bson_iter_t plain = Field(filter.get(), "_id");
	EXPECT_EQ(bson_iter_type(&plain), BSON_TYPE_BINARY);
}

TEST(MongoBson, IdColumnIsTheKey) {
	mosta::sidecar::ParsedChange keyed =
		RowChange(R"({"op":"insert","schema":"public","table":"t","key":["_id"],"new":{"_id":"k","v":1}})");
	MappingNotes notes;
	EXPECT_EQ(BsonToRelaxedJson(MongoRowDocument(keyed, keyed->new_row, notes).get()), R"({ "_id" : "k", "v" : 1 })");
	mosta::sidecar::ParsedChange other =
		RowChange(R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"_id":"k"}})");
	EXPECT_THROW(MongoRowDocument(other, other->new_row, notes), std::runtime_error);
}

TEST(MongoBson, KeylessTableIsRefused) {
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"insert","schema":"public","table":"logs","new":{"a":1}})");
	MappingNotes notes;
	try {
		MongoRowDocument(change, change->new_row, notes);
		FAIL() << "a keyless table must be refused";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(std::string(e.what()).find("public.logs"), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("no key"), std::string::npos) << e.what();
	}
}

TEST(MongoBson, MissingKeyColumnThrows) {
	mosta::sidecar::ParsedChange change =
		RowChange(R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"a":1}})");
	MappingNotes notes;
	EXPECT_THROW(MongoIdFilter(change, change->new_row, notes), std::runtime_error);
}

} // namespace
} // namespace mosta::sidecar
