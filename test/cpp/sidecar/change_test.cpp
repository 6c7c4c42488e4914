/*
 * change_test.cpp
 *     Unit tests for ParseChange and ChangeDecoder, on the documents printed in docs/protocol.md (format version 2)
 *     and written from the format-version-3 specification (relation documents, rows by position).
 */
#include "decode/change.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <sstream>
#include <type_traits>
#include <string>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

namespace {

using mosta::sidecar::Change;
using mosta::sidecar::ChangeDecoder;
using mosta::sidecar::ChangeParseError;
using mosta::sidecar::Column;
using mosta::sidecar::DecodedMessage;
using mosta::sidecar::Op;
using mosta::sidecar::OpName;
using mosta::sidecar::ParseChange;
using mosta::sidecar::ParsedChange;
using mosta::sidecar::RawJson;
using mosta::sidecar::UnknownOpError;
using mosta::sidecar::Value;
using namespace std::literals;

// ColumnValue returns the value of column name in row, failing the test when it is absent.
Value
ColumnValue(const std::vector<Column> &row, std::string_view name) {
	for (const Column &column : row)
		if (column.name == name)
			return column.value;
	ADD_FAILURE() << "no column " << name;
	return {};
}

// ParseChangeLines decodes message with a fresh decoder (the test keeps the message alive).
std::shared_ptr<const DecodedMessage>
ParseChangeLines(std::string_view message) {
	ChangeDecoder decoder;
	return decoder.Decode(message);
}

// ErrorOf returns the message ParseChange throws for document ("" if it does not throw).
std::string
ErrorOf(const std::string &document) {
	try {
		ParseChange(document);
	} catch (const ChangeParseError &error) {
		return error.what();
	}
	return {};
}

TEST(ParseChange, ReadsBeginAndCommitWithPositions) {
	ParsedChange begin =
		ParseChange(R"({"op":"begin","xid":725,"ts":"2026-11-22T17:50:00.335859+00:00","commit_lsn":"0/15397E8"})");
	EXPECT_EQ(begin->op, Op::Begin);
	EXPECT_EQ(begin->xid, 725u);
	EXPECT_EQ(begin->ts, "2026-11-22T17:50:00.335859+00:00");
	EXPECT_EQ(begin->commit_lsn, 0x15397E8u);
	EXPECT_EQ(begin->lsn, mosta::sidecar::kInvalidLsn);

	ParsedChange commit = ParseChange(
		R"({"op":"commit","xid":725,"ts":"2026-11-22T17:50:00.335859+00:00","lsn":"0/15397E8","end_lsn":"0/1539818"})");
	EXPECT_EQ(commit->op, Op::Commit);
	EXPECT_EQ(commit->lsn, 0x15397E8u);
	EXPECT_EQ(commit->end_lsn, 0x1539818u);

	ParsedChange bare = ParseChange(R"({"op":"commit"})");
	EXPECT_EQ(bare->op, Op::Commit);
	EXPECT_FALSE(bare->xid.has_value());
}

TEST(ParseChange, ReadsInsertUpdateDelete) {
	ParsedChange insert =
		ParseChange(R"({"op":"insert","xid":725,"lsn":"0/1539700","schema":"public","table":"orders",)"
					R"("key":["id"],"new":{"id":1,"item":"apple","qty":3}})");
	EXPECT_EQ(insert->op, Op::Insert);
	EXPECT_EQ(insert->lsn, 0x1539700u);
	EXPECT_EQ(insert->Schema(), "public");
	EXPECT_EQ(insert->Table(), "orders");
	EXPECT_EQ(insert->Key(), std::vector<std::string>{"id"});
	ASSERT_EQ(insert->new_row.size(), 3u);
	EXPECT_EQ(insert->new_row[0], (Column{"id", std::int64_t{1}}));
	EXPECT_EQ(insert->new_row[1], (Column{"item", std::string_view("apple")}));
	EXPECT_EQ(insert->new_row[2], (Column{"qty", std::int64_t{3}}));
	EXPECT_TRUE(insert->has_new);
	EXPECT_FALSE(insert->has_old);

	ParsedChange update = ParseChange(R"({"op":"update","schema":"public","table":"docs","key":["id"],)"
									  R"("new":{"id":2,"title":"b"},"old":{"id":1},"unchanged":["body"]})");
	EXPECT_EQ(update->op, Op::Update);
	EXPECT_TRUE(update->has_old);
	EXPECT_EQ(update->old_row, (std::vector<Column>{{"id", std::int64_t{1}}}));
	EXPECT_EQ(update->unchanged, std::vector<std::string_view>{"body"});

	ParsedChange del = ParseChange(R"({"op":"delete","schema":"public","table":"orders","key":["id"],"old":{"id":2}})");
	EXPECT_EQ(del->op, Op::Delete);
	EXPECT_FALSE(del->has_new);
	EXPECT_EQ(del->old_row, (std::vector<Column>{{"id", std::int64_t{2}}}));

	ParsedChange nothing = ParseChange(R"({"op":"delete","schema":"public","table":"nothing_t","key":["id"]})");
	EXPECT_FALSE(nothing->has_old);
	ParsedChange nokey = ParseChange(R"({"op":"insert","schema":"public","table":"nokey","new":{"a":1,"b":"x"}})");
	EXPECT_TRUE(nokey->Key().empty());
}

TEST(ParseChange, KeepsColumnOrderOfTheDocument) {
	ParsedChange change = ParseChange(R"({"op":"insert","schema":"s","table":"t","new":{"z":1,"a":2,"m":3,"b":4}})");
	std::vector<std::string> names;
	for (const Column &column : change->new_row)
		names.emplace_back(column.name);
	EXPECT_EQ(names, (std::vector<std::string>{"z", "a", "m", "b"}));
}

TEST(ParseChange, ReadsEveryValueFamilyExactly) {
	ParsedChange change = ParseChange(
		R"({"op":"insert","schema":"public","table":"v","key":["id"],"new":{"id":1,"i8":9223372036854775807,)"
		R"("o":4294967295,"f4":3.14,"f8":0.1,"n":"12.500","b":true,"j":{"a":  1},"jb":{"a": null, "b": [1, "x"]},)"
		R"("by":"\\x00ff10","t":"tab\t\"q\" é","c":"x  ","tstz":"2024-05-01T10:30:00.5+00:00",)"
		R"("iv":"P1Y2M3DT4H5M6.5S","arr":[1,null,3],"arr2":[["a","b"],["c","d e"]],"q":7,"m":"happy",)"
		R"js("p":"(1,\"x y\")","big":123456789012345678901234567890,"neg0":-0,"e":1e+300,"small":1e-07,"nul":null},)js"
		R"js("types":{"id":"integer","i8":"bigint","n":"numeric(10,3)","arr":"integer[]","q":"public.qty"}})js");
	const auto &row = change->new_row;
	EXPECT_EQ(ColumnValue(row, "i8"), Value(std::numeric_limits<std::int64_t>::max()));
	EXPECT_EQ(ColumnValue(row, "o"), Value(std::int64_t{4294967295}));
	EXPECT_EQ(ColumnValue(row, "f4"), Value(3.14));
	EXPECT_EQ(ColumnValue(row, "f8"), Value(0.1));
	EXPECT_EQ(ColumnValue(row, "n"), Value(std::string_view("12.500")));
	EXPECT_EQ(ColumnValue(row, "b"), Value(true));
	EXPECT_EQ(ColumnValue(row, "j"), Value(RawJson{R"({"a":  1})"}));
	EXPECT_EQ(ColumnValue(row, "jb"), Value(RawJson{R"({"a": null, "b": [1, "x"]})"}));
	EXPECT_EQ(ColumnValue(row, "by"), Value(std::string_view("\\x00ff10")));
	EXPECT_EQ(ColumnValue(row, "t"), Value(std::string_view("tab\t\"q\" é")));
	EXPECT_EQ(ColumnValue(row, "c"), Value(std::string_view("x  ")));
	EXPECT_EQ(ColumnValue(row, "arr"), Value(RawJson{"[1,null,3]"}));
	EXPECT_EQ(ColumnValue(row, "arr2"), Value(RawJson{R"([["a","b"],["c","d e"]])"}));
	EXPECT_EQ(ColumnValue(row, "q"), Value(std::int64_t{7}));
	EXPECT_EQ(ColumnValue(row, "p"), Value(std::string_view("(1,\"x y\")")));
	EXPECT_EQ(ColumnValue(row, "big"), Value(std::string_view("123456789012345678901234567890")));
	Value neg0 = ColumnValue(row, "neg0");
	ASSERT_TRUE(std::holds_alternative<double>(neg0));
	EXPECT_TRUE(std::signbit(std::get<double>(neg0)));
	EXPECT_EQ(ColumnValue(row, "e"), Value(1e300));
	EXPECT_EQ(ColumnValue(row, "small"), Value(1e-7));
	EXPECT_TRUE(mosta::sidecar::IsNull(ColumnValue(row, "nul")));
	EXPECT_EQ(change->TypeOf("n"), "numeric(10,3)");
	EXPECT_EQ(change->TypeOf("q"), "public.qty");
	EXPECT_EQ(change->TypeOf("t"), "");
	EXPECT_EQ(change->relation->columns.size(), 5u);
	EXPECT_EQ(change->relation->TypeAt(2), "numeric(10,3)");
}

// Format version 2 (kFormatVersion): json and jsonb values are strings of their JSON text, so the JSON null
// ("null") and SQL NULL (null) arrive apart, in columns and in json[] elements.
TEST(ParseChange, ReadsFormatVersion2JsonValuesApartFromSqlNull) {
	const std::string document =
		R"({"op":"insert","schema":"public","table":"j","key":["id"],"new":{"id":1,"sql_null":null,)"
		R"("json_null":"null","obj":"{\"a\": null, \"b\": [1, \"x\"]}","str":"\"null\"","nl":"{\"a\":\n 1}",)"
		R"("arr":["null",null,"{\"k\": null}"]},"types":{"id":"integer","sql_null":"jsonb","json_null":"jsonb",)"
		R"("obj":"jsonb","str":"json","nl":"json","arr":"jsonb[]"}})";
	{
		ParsedChange change = ParseChange(document);
		const auto &row = change->new_row;
		EXPECT_TRUE(mosta::sidecar::IsNull(ColumnValue(row, "sql_null")));
		EXPECT_EQ(ColumnValue(row, "json_null"), Value(std::string_view("null")));
		EXPECT_EQ(ColumnValue(row, "obj"), Value(std::string(R"({"a": null, "b": [1, "x"]})")));
		EXPECT_EQ(ColumnValue(row, "str"), Value(std::string(R"("null")")));
		EXPECT_EQ(ColumnValue(row, "nl"), Value(std::string_view("{\"a\":\n 1}")));
		EXPECT_EQ(ColumnValue(row, "arr"), Value(RawJson{R"(["null",null,"{\"k\": null}"])"}));
	}
}

TEST(ParseChange, ReadsSpecialFloatsAndEscapes) {
	ParsedChange change = ParseChange(R"({"op":"insert","schema":"public","table":"v","new":{"f4":"NaN",)"
									  R"("f8":"-Infinity","u":"caf\u00e9 \ud83d\ude00","ws":  [ 1 , 2 ] }})");
	EXPECT_EQ(ColumnValue(change->new_row, "f4"), Value(std::string_view("NaN")));
	EXPECT_EQ(ColumnValue(change->new_row, "f8"), Value(std::string_view("-Infinity")));
	EXPECT_EQ(ColumnValue(change->new_row, "u"), Value(std::string_view("café 😀")));
	EXPECT_EQ(ColumnValue(change->new_row, "ws"), Value(RawJson{"[ 1 , 2 ]"}));
}

TEST(ParseChange, ReadsTruncateWithPartitions) {
	ParsedChange change =
		ParseChange(R"({"op":"truncate","xid":9,"lsn":"0/1","tables":[{"schema":"public","table":"m"},)"
					R"({"schema":"public","table":"m","partition":{"schema":"public","table":"m_2024"}}],)"
					R"("cascade":false,"restart_identity":true})");
	EXPECT_EQ(change->op, Op::Truncate);
	ASSERT_EQ(change->truncate_tables.size(), 2u);
	EXPECT_EQ(change->truncate_tables[0].table, "m");
	EXPECT_FALSE(change->truncate_tables[0].partition.has_value());
	ASSERT_TRUE(change->truncate_tables[1].partition.has_value());
	EXPECT_EQ(change->truncate_tables[1].partition->table, "m_2024");
	EXPECT_FALSE(change->cascade);
	EXPECT_TRUE(change->restart_identity);
}

TEST(ParseChange, ReadsMessages) {
	ParsedChange embedded = ParseChange(R"({"op":"message","xid":724,"lsn":"0/1511B98","transactional":true,)"
										R"("prefix":"mostajs.demo","content":{"k": [1,  2]}})");
	EXPECT_EQ(embedded->op, Op::Message);
	EXPECT_TRUE(embedded->transactional);
	EXPECT_EQ(embedded->prefix, "mostajs.demo");
	EXPECT_EQ(embedded->content, Value(RawJson{R"({"k": [1,  2]})"}));

	ParsedChange base64 =
		ParseChange(R"({"op":"message","xid":724,"lsn":"0/1511C58","transactional":true,"prefix":"app",)"
					R"("encoding":"base64","content":"AP8="})");
	EXPECT_EQ(base64->encoding, "base64");
	EXPECT_EQ(base64->content, Value(std::string_view("AP8=")));

	ParsedChange plain = ParseChange(
		R"({"op":"message","lsn":"0/1511CD0","transactional":false,"prefix":"app.audit","content":"line1\nline2"})");
	EXPECT_FALSE(plain->transactional);
	EXPECT_FALSE(plain->xid.has_value());
	EXPECT_EQ(plain->content, Value(std::string_view("line1\nline2")));
}

TEST(ParseChange, ReadsTwoPhaseAndOriginDocuments) {
	ParsedChange begin = ParseChange(R"({"op":"begin","ts":"2026-11-22T17:50:24.765728+00:00","gid":"order-1",)"
									 R"("commit_lsn":"0/1531AE0"})");
	EXPECT_EQ(begin->gid, "order-1");
	ParsedChange prepare = ParseChange(R"({"op":"prepare","gid":"order-1","lsn":"0/1531AE0","end_lsn":"0/1531BD8"})");
	EXPECT_EQ(prepare->op, Op::Prepare);
	EXPECT_EQ(prepare->end_lsn, 0x1531BD8u);
	EXPECT_EQ(ParseChange(R"({"op":"commit_prepared","gid":"order-1","lsn":"0/1531BD8","end_lsn":"0/1531C18"})")->op,
			  Op::CommitPrepared);
	EXPECT_EQ(ParseChange(R"({"op":"rollback_prepared","gid":"order-2"})")->op, Op::RollbackPrepared);
	EXPECT_EQ(ParseChange(R"({"op":"begin","origin":"node_b"})")->origin, "node_b");
}

TEST(ParseChange, IgnoresUnknownFields) {
	ParsedChange change =
		ParseChange(R"({"op":"insert","future":{"x":[1]},"schema":"s","table":"t","new":{"a":1},"z":2})");
	EXPECT_EQ(change->new_row.size(), 1u);
}

TEST(ParseChange, RejectsBadDocumentsWithAClearMessage) {
	EXPECT_NE(ErrorOf("{\"op\":\"begin\"").find("invalid JSON: {\"op\":\"begin\""), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"begin"} trailing)").find("invalid JSON"), std::string::npos);
	EXPECT_NE(ErrorOf("[1]").find("not a JSON object"), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"xid":1})").find("missing \"op\""), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":1})").find("\"op\" is not a string"), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"insert","table":"t","new":{}})").find("missing \"schema\""), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"insert","schema":"s","table":"t"})").find("missing \"new\" on insert"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"update","schema":"s","table":"t","new":[1]})").find("\"new\" is not an object"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"commit","end_lsn":"12"})").find("\"end_lsn\" is not an LSN"), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"begin","xid":-1})").find("\"xid\""), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"truncate"})").find("missing \"tables\""), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"message","prefix":"p"})").find("missing \"content\""), std::string::npos);
	EXPECT_NE(ErrorOf(R"({"op":"insert","schema":"s","table":"t","key":[1],"new":{}})").find("\"key\""),
			  std::string::npos);
}

TEST(ParseChange, QuotesOnlyTheFirst200BytesOfABadDocument) {
	std::string document = R"({"op":"insert","schema":"s","table":"t","new":{"v":")" + std::string(500, 'x') + "\"";
	std::string message = ErrorOf(document);
	EXPECT_NE(message.find(document.substr(0, 200) + "..."), std::string::npos);
	EXPECT_EQ(message.find(document.substr(0, 201)), std::string::npos);
}

TEST(ParseChange, ThrowsUnknownOpErrorNamingTheOp) {
	try {
		ParseChange(R"({"op":"stream_start","xid":1})");
		FAIL() << "no exception";
	} catch (const UnknownOpError &error) {
		EXPECT_EQ(error.OpText(), "stream_start");
		EXPECT_NE(std::string(error.what()).find("unknown \"op\" \"stream_start\""), std::string::npos);
	}
}

TEST(ParseChangeLines, SplitsABatchAndSkipsUnknownOps) {
	std::string message = R"({"op":"begin"})"
						  "\n"
						  R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":1,"v":"v1"}})"
						  "\n"
						  R"({"op":"future_op","x":1})"
						  "\n"
						  R"({"op":"insert","schema":"public","table":"t","key":["id"],"new":{"id":2,"v":"v2"}})"
						  "\n"
						  R"({"op":"commit"})"
						  "\n";
	std::shared_ptr<const DecodedMessage> decoded = ParseChangeLines(message);
	const std::vector<Change> &changes = decoded->changes;
	ASSERT_EQ(changes.size(), 4u);
	EXPECT_EQ(changes[0].op, Op::Begin);
	EXPECT_EQ(changes[1].new_row[1].value, Value(std::string_view("v1")));
	EXPECT_EQ(changes[2].new_row[0].value, Value(std::int64_t{2}));
	EXPECT_EQ(changes[3].op, Op::Commit);
	EXPECT_EQ(ParseChangeLines(R"({"op":"commit"})")->changes.size(), 1u);
	EXPECT_TRUE(ParseChangeLines("")->changes.empty());
}

TEST(ParseChangeLines, FailsOnABadDocumentInsideABatch) {
	EXPECT_THROW(ParseChangeLines("{\"op\":\"begin\"}\n{\"op\":\n{\"op\":\"commit\"}"), ChangeParseError);
}

const std::vector<std::string> kEdgeDocuments = {
	R"js({"op":"begin","xid":727,"ts":"2026-11-22T19:42:29.508398+00:00","commit_lsn":"0/1A59B18"})js",
	R"js({"op":"insert","xid":727,"lsn":"0/19E3320","schema":"public","table":"bench_rows","key":["id"],"new":{"id":1,"n":1,"label":"row 1","amount":"1.37","at":"2024-01-01T00:00:01+00:00","doc":{"k": 1, "tag": "bench", "even": false},"flag":false},"types":{"id":"bigint","n":"integer","label":"text","amount":"numeric(14,2)","at":"timestamp with time zone","doc":"jsonb","flag":"boolean"}})js",
	R"js({"op":"update","xid":7,"lsn":"0/1","schema":"s","table":"t","key":["id"],"new":{"id":2,"v":"x"},"old":{"id":1},"unchanged":["big"],"types":{"id":"integer","v":"text","big":"text"}})js",
	R"js({"op":"delete","xid":7,"lsn":"0/1","schema":"s","table":"t","key":["id"],"old":{"id":18001}})js",
	R"js({"op":"commit","xid":727,"lsn":"0/1A59B18","end_lsn":"0/1A59B48","ts":"2026-11-22T19:42:29.508398+00:00"})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"v":"x\"y\\z\/\b\f\n\r\t"},"types":{"v":"t\"q"}})js",
	" \t\r\n{\"op\" : \"begin\" , \"xid\" : 1 }\n \t",
	"{\"op\":\"begin\"}\v",
	"\v{\"op\":\"begin\"}",
	"\xEF\xBB\xBF{\"op\":\"begin\"}",
	std::string("{\"op\":\"begin\"}\0", 15),
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":01}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1.}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":.5}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":-}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1e}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":+1}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1-2}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":-0,"b":0,"c":-0.0,"d":1E+5,"e":1.5e-3,"f":2e400}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":9223372036854775807,"b":9223372036854775808,"c":-9223372036854775809,"d":1.0}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":)js" + std::string(63, '1') + "}}",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":)js" + std::string(64, '1') + "}}",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":0.)js" + std::string(70, '5') + "}}",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":)js" + std::string(70, '[') + std::string(70, ']') + "}}",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":)js" + std::string(62, '[') + std::string(62, ']') + "}}",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1,"a":2},"types":{"a":"int","a":"text"}})js",
	R"js({"op":"insert","op":"delete","schema":"s","schema":"x","table":"t","new":{"a":1}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a\nb":"x\"y\\z\/\b\f\n\r\t"},"types":{"a\nb":"t\"q"}})js",
	R"js({"op":"insert","schema":"s\t","table":"t\u00e9","new":{"u":"\u00e9\ud83d\ude00","n":"\u0000x"}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"bad":"\x"}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"bad":"\ud800"}})js",
	"{\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"ctl\":\"a\x01"
	"b\"}}",
	"{\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"utf\":\"caf\xC3\xA9 \xFF\"}}",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":[1,]}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":{"k" 1}}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":tru}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":nulll}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":true,"b":false,"c":null,"d":{},"e":[ ],"f":{ "x" : [ {} ] }}})js",
	R"js({"op":"begin"}x)js",
	R"js({"op":"begin"},)js",
	R"js({"op":"begin")js",
	R"js({"op":"begin",})js",
	R"js({"op":"\u0062egin"})js",
	R"js({"op":"stream_start"})js",
	R"js({"op":"b\"egin"})js",
	R"js({"op":null})js",
	R"js([{"op":"begin"}])js",
	R"js("op")js",
	"",
	"   ",
	R"js({"op":"begin","xid":-1})js",
	R"js({"op":"begin","xid":1.0})js",
	R"js({"op":"begin","xid":"1"})js",
	R"js({"op":"begin","xid":18446744073709551615})js",
	R"js({"op":"begin","xid":18446744073709551616})js",
	R"js({"op":"begin","commit_lsn":""})js",
	R"js({"op":"begin","commit_lsn":"0/XYZ"})js",
	R"js({"op":"commit","end_lsn":1})js",
	R"js({"op":"begin","ts":1,"origin":null})js",
	R"js({"op":"begin","gid":"a\/b"})js",
	R"js({"op":"insert","schema":"s","table":"t","key":"id","new":{"a":1}})js",
	R"js({"op":"insert","schema":"s","table":"t","key":[1],"new":{"a":1}})js",
	R"js({"op":"insert","schema":"s","table":"t","unchanged":[null],"new":{"a":1}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1},"types":{"a":1}})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1},"types":[]})js",
	R"js({"op":"insert","schema":"s","table":"t","new":{"a":1},"old":[]})js",
	R"js({"op":"insert","schema":1,"table":"t","new":{"a":1}})js",
	R"js({"op":"update","schema":"s","table":"t","old":{"a":1}})js",
	R"js({"op":"delete","schema":"s","table":"t"})js",
	R"js({"op":"truncate","tables":[{"schema":"public","table":"m"},{"schema":"public","table":"m","partition":{"schema":"public","table":"m_2024"}}],"cascade":false,"restart_identity":true})js",
	R"js({"op":"truncate","tables":[{"schema":"public"}]})js",
	R"js({"op":"truncate","tables":[{"schema":"public","table":"m","partition":[]}]})js",
	R"js({"op":"truncate","tables":[{"schema":"public","table":"m","partition":{"schema":"p"}}]})js",
	R"js({"op":"truncate","tables":[1]})js",
	R"js({"op":"truncate","tables":{}})js",
	R"js({"op":"truncate","tables":[],"cascade":1})js",
	R"js({"op":"message","transactional":true,"prefix":"p","content":{"k": [1,  2]}})js",
	R"js({"op":"message","transactional":false,"prefix":"p","encoding":"base64","content":"AP8="})js",
	R"js({"op":"message","prefix":"p","content":12.5})js",
	R"js({"op":"message","prefix":"p","content":null})js",
	R"js({"op":"message","prefix":"p"})js",
	R"js({"op":"message","content":"x"})js",
	R"js({"op":"message","prefix":"p","transactional":"yes","content":"x"})js",
	R"js({"op":"prepare","gid":"g","lsn":"0/1","end_lsn":"0/2"})js",
	R"js({"op":"commit_prepared","gid":"g","lsn":"0/1","end_lsn":"0/2"})js",
	R"js({"op":"rollback_prepared","gid":"g"})js",
};

// Summary describes what ParseChange made of a document: the main fields, or the exception's type and text.
std::string
Summary(const std::string &document) {
	std::ostringstream out;
	try {
		ParsedChange parsed = ParseChange(document);
		const Change &c = *parsed;
		auto value = [&](const Value &v) {
			out << v.index() << ':';
			std::visit(
				[&](const auto &x) {
					using T = std::decay_t<decltype(x)>;
					if constexpr (std::is_same_v<T, RawJson>)
						out << x.text;
					else if constexpr (std::is_same_v<T, double>)
						out << std::signbit(x) << std::hexfloat << x << std::defaultfloat;
					else if constexpr (!std::is_same_v<T, std::monostate>)
						out << x;
				},
				v);
			out << '|';
		};
		out << OpName(c.op) << ' ' << (c.xid ? std::to_string(*c.xid) : "-") << ' ' << c.gid << ' ' << c.lsn << ' '
			<< c.end_lsn << ' ' << c.Schema() << '.' << c.Table() << ' ';
		for (const Column &column : c.new_row) {
			out << column.name << '=';
			value(column.value);
		}
		for (const auto &target : c.truncate_tables)
			out << target.schema << '.' << target.table << ',';
		value(c.content);
	} catch (const mosta::sidecar::UnknownOpError &error) {
		out << "UnknownOpError " << error.what();
	} catch (const ChangeParseError &error) {
		out << "ChangeParseError " << error.what();
	}
	return out.str();
}

// What Summary gives for each of kEdgeDocuments, read by RFC 8259: the old cJSON reader also took a vertical tab
// or a BOM around the document, a NUL after it, 01 and 1., raw control bytes and invalid UTF-8 in strings, and cut
// "\u0000x" to ""; simdjson refuses the former (the plugin never writes them) and keeps the NUL.
const std::vector<std::string_view> kEdgeOutcomes = {
	"begin 727  0 0 . 0:|"sv,
	"insert 727  27144992 0 public.bench_rows id=2:1|n=2:1|label=4:row 1|amount=4:1.37|at=4:2024-01-01T00:00:01+00:00|doc=5:{\"k\": 1, \"tag\": \"bench\", \"even\": false}|flag=1:0|0:|"sv,
	"update 7  1 0 s.t id=2:2|v=4:x|0:|"sv,
	"delete 7  1 0 s.t 0:|"sv,
	"commit 727  27630360 27630408 . 0:|"sv,
	"insert -  0 0 s.t v=4:x\"y\\z/\010\014\012\015\011|0:|"sv,
	"begin 1  0 0 . 0:|"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"begin\"}\013"sv,
	"ChangeParseError invalid change document: invalid JSON: \013{\"op\":\"begin\"}"sv,
	"ChangeParseError invalid change document: invalid JSON: \357\273\277{\"op\":\"begin\"}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"begin\"}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":01}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":1.}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":.5}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":-}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":1e}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":+1}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":1-2}}"sv,
	"insert -  0 0 s.t a=3:1-0x0p+0|b=2:0|c=3:1-0x0p+0|d=3:00x1.86ap+16|e=3:00x1.89374bc6a7efap-10|f=4:2e400|0:|"sv,
	"insert -  0 0 s.t a=2:9223372036854775807|b=4:9223372036854775808|c=4:-9223372036854775809|d=3:00x1p+0|0:|"sv,
	"insert -  0 0 s.t a=4:111111111111111111111111111111111111111111111111111111111111111|0:|"sv,
	"insert -  0 0 s.t a=4:1111111111111111111111111111111111111111111111111111111111111111|0:|"sv,
	"insert -  0 0 s.t a=3:00x1.1c71c71c71c72p-1|0:|"sv,
	"insert -  0 0 s.t a=5:[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]|0:|"sv,
	"insert -  0 0 s.t a=5:[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]|0:|"sv,
	"insert -  0 0 s.t a=2:1|a=2:2|0:|"sv,
	"insert -  0 0 s.t a=2:1|0:|"sv,
	"insert -  0 0 s.t a\012b=4:x\"y\\z/\010\014\012\015\011|0:|"sv,
	"insert -  0 0 s\011.t\303\251 u=4:\303\251\360\237\230\200|n=4:\000x|0:|"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"bad\":\"\\x\"}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"bad\":\"\\ud800\"}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"ctl\":\"a\001b\"}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"utf\":\"caf\303\251 \377\"}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":[1,]}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":{\"k\" 1}}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":tru}}"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":nulll}}"sv,
	"insert -  0 0 s.t a=1:1|b=1:0|c=0:|d=5:{}|e=5:[ ]|f=5:{ \"x\" : [ {} ] }|0:|"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"begin\"}x"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"begin\"},"sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"begin\""sv,
	"ChangeParseError invalid change document: invalid JSON: {\"op\":\"begin\",}"sv,
	"begin -  0 0 . 0:|"sv,
	"UnknownOpError invalid change document: unknown \"op\" \"stream_start\": {\"op\":\"stream_start\"}"sv,
	"UnknownOpError invalid change document: unknown \"op\" \"b\"egin\": {\"op\":\"b\\\"egin\"}"sv,
	"ChangeParseError invalid change document: \"op\" is not a string: {\"op\":null}"sv,
	"ChangeParseError invalid change document: not a JSON object: [{\"op\":\"begin\"}]"sv,
	"ChangeParseError invalid change document: not a JSON object: \"op\""sv,
	"ChangeParseError invalid change document: invalid JSON: "sv,
	"ChangeParseError invalid change document: invalid JSON:    "sv,
	"ChangeParseError invalid change document: \"xid\" is not a non-negative integer: {\"op\":\"begin\",\"xid\":-1}"sv,
	"ChangeParseError invalid change document: \"xid\" is not a non-negative integer: {\"op\":\"begin\",\"xid\":1.0}"sv,
	"ChangeParseError invalid change document: \"xid\" is not a non-negative integer: {\"op\":\"begin\",\"xid\":\"1\"}"sv,
	"begin 18446744073709551615  0 0 . 0:|"sv,
	"ChangeParseError invalid change document: \"xid\" is not a non-negative integer: {\"op\":\"begin\",\"xid\":18446744073709551616}"sv,
	"ChangeParseError invalid change document: \"commit_lsn\" is not an LSN (X/Y in hex): \"\": {\"op\":\"begin\",\"commit_lsn\":\"\"}"sv,
	"ChangeParseError invalid change document: \"commit_lsn\" is not an LSN (X/Y in hex): \"0/XYZ\": {\"op\":\"begin\",\"commit_lsn\":\"0/XYZ\"}"sv,
	"ChangeParseError invalid change document: \"end_lsn\" is not a string: {\"op\":\"commit\",\"end_lsn\":1}"sv,
	"ChangeParseError invalid change document: \"ts\" is not a string: {\"op\":\"begin\",\"ts\":1,\"origin\":null}"sv,
	"begin - a/b 0 0 . 0:|"sv,
	"ChangeParseError invalid change document: \"key\" is not an array: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"key\":\"id\",\"new\":{\"a\":1}}"sv,
	"ChangeParseError invalid change document: \"key\" holds a non-string item: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"key\":[1],\"new\":{\"a\":1}}"sv,
	"ChangeParseError invalid change document: \"unchanged\" holds a non-string item: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"unchanged\":[null],\"new\":{\"a\":1}}"sv,
	"ChangeParseError invalid change document: \"types\" holds a non-string type for column \"a\": {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":1},\"types\":{\"a\":1}}"sv,
	"ChangeParseError invalid change document: \"types\" is not an object: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":1},\"types\":[]}"sv,
	"ChangeParseError invalid change document: \"old\" is not an object: {\"op\":\"insert\",\"schema\":\"s\",\"table\":\"t\",\"new\":{\"a\":1},\"old\":[]}"sv,
	"ChangeParseError invalid change document: \"schema\" is not a string: {\"op\":\"insert\",\"schema\":1,\"table\":\"t\",\"new\":{\"a\":1}}"sv,
	"ChangeParseError invalid change document: missing \"new\" on update: {\"op\":\"update\",\"schema\":\"s\",\"table\":\"t\",\"old\":{\"a\":1}}"sv,
	"delete -  0 0 s.t 0:|"sv,
	"truncate -  0 0 . public.m,public.m,0:|"sv,
	"ChangeParseError invalid change document: missing \"tables[].table\": {\"op\":\"truncate\",\"tables\":[{\"schema\":\"public\"}]}"sv,
	"ChangeParseError invalid change document: \"tables[].partition\" is not an object: {\"op\":\"truncate\",\"tables\":[{\"schema\":\"public\",\"table\":\"m\",\"partition\":[]}]}"sv,
	"ChangeParseError invalid change document: missing \"tables[].partition.table\": {\"op\":\"truncate\",\"tables\":[{\"schema\":\"public\",\"table\":\"m\",\"partition\":{\"schema\":\"p\"}}]}"sv,
	"ChangeParseError invalid change document: \"tables\" holds a non-object item: {\"op\":\"truncate\",\"tables\":[1]}"sv,
	"ChangeParseError invalid change document: \"tables\" is not an array: {\"op\":\"truncate\",\"tables\":{}}"sv,
	"ChangeParseError invalid change document: \"cascade\" is not a boolean: {\"op\":\"truncate\",\"tables\":[],\"cascade\":1}"sv,
	"message -  0 0 . 5:{\"k\": [1,  2]}|"sv,
	"message -  0 0 . 4:AP8=|"sv,
	"message -  0 0 . 3:00x1.9p+3|"sv,
	"message -  0 0 . 0:|"sv,
	"ChangeParseError invalid change document: missing \"content\": {\"op\":\"message\",\"prefix\":\"p\"}"sv,
	"ChangeParseError invalid change document: missing \"prefix\": {\"op\":\"message\",\"content\":\"x\"}"sv,
	"ChangeParseError invalid change document: \"transactional\" is not a boolean: {\"op\":\"message\",\"prefix\":\"p\",\"transactional\":\"yes\",\"content\":\"x\"}"sv,
	"prepare - g 1 2 . 0:|"sv,
	"commit_prepared - g 1 2 . 0:|"sv,
	"rollback_prepared - g 0 0 . 0:|"sv,
};

// The edges of JSON and of each field, formerly the agreement corpus of the two old readers.
TEST(ParseChange, ReadsEveryEdgeDocumentAsExpected) {
	ASSERT_EQ(kEdgeDocuments.size(), kEdgeOutcomes.size());
	for (std::size_t i = 0; i < kEdgeDocuments.size(); ++i)
		EXPECT_EQ(Summary(kEdgeDocuments[i]), kEdgeOutcomes[i]) << "document #" << i << ": " << kEdgeDocuments[i];
}

TEST(ParseChange, ReadsADocumentOfManyValuesThenSmallOnes) {
	std::string array = "[0";
	for (int i = 1; i < 20000; ++i)
		array += "," + std::to_string(i);
	array += "]";
	std::string big = R"({"op":"insert","schema":"s","table":"t","new":{"a":)" + array + R"(,"b":7}})";
	ParsedChange change = ParseChange(big);
	EXPECT_EQ(ColumnValue(change->new_row, "a"), Value(RawJson{array}));
	EXPECT_EQ(ColumnValue(change->new_row, "b"), Value(std::int64_t{7}));
	EXPECT_EQ(ParseChange(kEdgeDocuments[3])->old_row.size(), 1u);
}

TEST(ParseChangeLines, ReadsEscapesBetweenPlainDocuments) {
	std::shared_ptr<const DecodedMessage> decoded =
		ParseChangeLines(std::string(R"({"op":"begin","gid":"\u0067"})") + "\n" + R"({"op":"stream_start"})" + "\n" +
						 R"({"op":"begin","gid":"h"})");
	ASSERT_EQ(decoded->changes.size(), 2u);
	EXPECT_EQ(decoded->changes[0].gid, "g");
	EXPECT_EQ(decoded->changes[1].gid, "h");
}

// Strings without escapes are views of the message buffer; unescaped ones live in the message's arena.
TEST(ChangeDecoder, ViewsPointIntoTheDecodedMessage) {
	ChangeDecoder decoder;
	std::shared_ptr<const DecodedMessage> decoded =
		decoder.Decode(R"({"op":"insert","schema":"s","table":"t","new":{"a":"plain","b":"tab\t","c":[1, 2]}})");
	const Change &change = decoded->changes.at(0);
	const char *begin = decoded->buffer.get();
	const char *end = begin + decoded->size;
	auto inside = [&](std::string_view text) { return text.data() >= begin && text.data() + text.size() <= end; };
	EXPECT_TRUE(inside(std::get<std::string_view>(change.new_row[0].value)));
	EXPECT_TRUE(inside(change.new_row[0].name));
	EXPECT_FALSE(inside(std::get<std::string_view>(change.new_row[1].value)));
	EXPECT_EQ(change.new_row[1].value, Value(std::string_view("tab\t")));
	EXPECT_TRUE(inside(std::get<RawJson>(change.new_row[2].value).text));
	EXPECT_TRUE(change.raw.empty()); // not asked for
}

TEST(ChangeDecoder, KeepsTheDocumentTextOnlyWhenAsked) {
	ChangeDecoder decoder(mosta::sidecar::DecoderOptions{true});
	std::shared_ptr<const DecodedMessage> decoded = decoder.Decode("{\"op\":\"begin\"}\n{\"op\":\"commit\"}\n");
	ASSERT_EQ(decoded->changes.size(), 2u);
	EXPECT_EQ(decoded->changes[0].raw, R"({"op":"begin"})");
	EXPECT_EQ(decoded->changes[1].raw, R"({"op":"commit"})");
	EXPECT_EQ(ParseChange(R"({"op":"begin"})", mosta::sidecar::DecoderOptions{true})->raw, R"({"op":"begin"})");
}

// Version 2: one schema per table, shared by its rows while "key" and "types" keep their text; rebuilt otherwise.
TEST(ChangeDecoder, SharesOneSchemaPerTableWhileItsTypesStayTheSame) {
	ChangeDecoder decoder;
	const std::string row1 = R"({"op":"insert","schema":"s","table":"t","key":["id"],"new":{"id":1,"v":"a"},)"
							 R"("types":{"id":"integer","v":"text"}})";
	const std::string row2 = R"({"op":"insert","schema":"s","table":"t","key":["id"],"new":{"id":2,"v":"b"},)"
							 R"("types":{"id":"integer","v":"text"}})";
	const std::string other = R"({"op":"insert","schema":"s","table":"u","new":{"x":1},"types":{"x":"bigint"}})";
	const std::string altered = R"({"op":"insert","schema":"s","table":"t","key":["id"],"new":{"id":3,"v":"c","w":1},)"
								R"("types":{"id":"integer","v":"text","w":"smallint"}})";
	std::shared_ptr<const DecodedMessage> first = decoder.Decode(row1 + "\n" + other + "\n" + row2);
	std::shared_ptr<const DecodedMessage> second = decoder.Decode(row2);
	std::shared_ptr<const DecodedMessage> third = decoder.Decode(altered);
	const auto &t = first->changes[0].relation;
	EXPECT_EQ(t, first->changes[2].relation);
	EXPECT_EQ(t, second->changes[0].relation);
	EXPECT_NE(t, first->changes[1].relation);
	EXPECT_NE(t, third->changes[0].relation);
	EXPECT_EQ(t->TypeOf("v"), "text");
	EXPECT_EQ(t->TypeOf("w"), "");
	EXPECT_EQ(third->changes[0].TypeOf("w"), "smallint");
	EXPECT_EQ(third->changes[0].relation->columns.size(), 3u);
	EXPECT_EQ(first->changes[1].Table(), "u");
	EXPECT_EQ(first->changes[1].TypeOf("x"), "bigint");
	EXPECT_EQ(t->relid, 0u);
	// the first message's schema stays valid after the table's types changed
	EXPECT_EQ(t->columns.size(), 2u);
	decoder.StartSession();
	EXPECT_NE(decoder.Decode(row1)->changes[0].relation, t);
}

// Format version 3 (/work/notes/v3-spec.md): relation documents, then row changes by position.
const std::string kRelation =
	R"({"op":"relation","relid":16385,"schema":"public","table":"docs","identity":"default","key":["id"],)"
	R"("columns":[{"name":"id","type":"integer","oid":23,"typmod":-1,"dims":0},)"
	R"js({"name":"price","type":"numeric(10,2)","oid":1700,"typmod":655366,"dims":0},)js"
	R"({"name":"tags","type":"text[]","oid":1009,"typmod":-1,"dims":1}]})";

TEST(ChangeDecoder, ReadsVersion3RelationsAndRowsByPosition) {
	ChangeDecoder decoder;
	std::shared_ptr<const DecodedMessage> decoded =
		decoder.Decode(std::string(R"({"op":"begin","xid":9,"commit_lsn":"0/1A2D00"})") + "\n" + kRelation + "\n" +
					   R"({"op":"insert","lsn":"0/1A2B3C","relid":16385,"new":[1,"9.90",["a","b"]]})" + "\n" +
					   R"({"op":"update","lsn":"0/1A2B9C","relid":16385,"new":[1,null,["a"]],"unchanged":[1]})" + "\n" +
					   R"({"op":"update","lsn":"0/1A2C00","relid":16385,"new":[2,"1.00",null],"old":[1,null,null]})" +
					   "\n" + R"({"op":"delete","lsn":"0/1A2C40","relid":16385,"old":[2,null,null]})" + "\n" +
					   R"({"op":"commit","lsn":"0/1A2D00","end_lsn":"0/1A2D30"})");
	const std::vector<Change> &changes = decoded->changes;
	ASSERT_EQ(changes.size(), 6u); // the relation document is not a change
	const Change &insert = changes[1];
	EXPECT_EQ(insert.op, Op::Insert);
	EXPECT_EQ(insert.lsn, 0x1A2B3Cu);
	ASSERT_TRUE(insert.relation);
	const mosta::sidecar::RelationSchema &relation = *insert.relation;
	EXPECT_EQ(relation.relid, 16385u);
	EXPECT_EQ(insert.Schema(), "public");
	EXPECT_EQ(insert.Table(), "docs");
	EXPECT_EQ(insert.Key(), std::vector<std::string>{"id"});
	EXPECT_EQ(relation.identity, mosta::sidecar::ReplicaIdentity::Default);
	ASSERT_EQ(relation.columns.size(), 3u);
	EXPECT_EQ(relation.columns[1].type, "numeric(10,2)");
	EXPECT_EQ(relation.columns[1].type_oid, 1700u);
	EXPECT_EQ(relation.columns[1].typmod, 655366);
	EXPECT_EQ(relation.columns[2].dims, 1);
	EXPECT_EQ(relation.TypeAt(2), "text[]");
	EXPECT_EQ(insert.new_row,
			  (std::vector<Column>{
				  {"id", std::int64_t{1}}, {"price", std::string_view("9.90")}, {"tags", RawJson{R"(["a","b"])"}}}));
	// each value points at its relation column, whose type is classified once for every change of the relation
	EXPECT_EQ(insert.new_row[1].declared, &relation.columns[1]);
	EXPECT_EQ(relation.columns[1].classified.info->kind, mosta::PgTypeKind::Numeric);
	EXPECT_EQ(relation.columns[2].classified.info->kind, mosta::PgTypeKind::Text);
	EXPECT_EQ(relation.columns[2].classified.dims, 1);
	const Change &toast = changes[2];
	EXPECT_EQ(toast.new_row[1].declared, &relation.columns[2]); // the unchanged "price" is left out
	EXPECT_EQ(toast.unchanged, std::vector<std::string_view>{"price"});
	EXPECT_EQ(toast.new_row, (std::vector<Column>{{"id", std::int64_t{1}}, {"tags", RawJson{R"(["a"])"}}}));
	EXPECT_FALSE(toast.has_old);
	const Change &rekey = changes[3];
	EXPECT_TRUE(rekey.has_old);
	EXPECT_EQ(rekey.old_row, (std::vector<Column>{{"id", std::int64_t{1}}})); // identity columns only
	EXPECT_TRUE(mosta::sidecar::IsNull(ColumnValue(rekey.new_row, "tags")));  // a SQL NULL stays
	const Change &del = changes[4];
	EXPECT_FALSE(del.has_new);
	EXPECT_EQ(del.old_row, (std::vector<Column>{{"id", std::int64_t{2}}}));
	EXPECT_EQ(insert.relation, del.relation);
	EXPECT_EQ(changes[5].end_lsn, 0x1A2D30u);
}

TEST(ChangeDecoder, KeepsVersion3RelationsAcrossMessagesUntilTheSessionEnds) {
	ChangeDecoder decoder;
	const std::string insert = R"({"op":"insert","relid":16385,"new":[1,"9.90",null]})";
	// a relation document alone in a message (or in a transaction the daemon skips) still counts
	EXPECT_TRUE(decoder.Decode(kRelation)->changes.empty());
	EXPECT_EQ(decoder.Decode(insert)->changes.size(), 1u);
	// REPLICA IDENTITY FULL: "old" holds the whole row; a new relation document replaces the old one
	std::string full = kRelation;
	full.replace(full.find("\"default\""), 9, "\"full\"");
	std::shared_ptr<const DecodedMessage> decoded =
		decoder.Decode(full + "\n" + R"({"op":"delete","relid":16385,"old":[1,"9.90",null]})");
	ASSERT_EQ(decoded->changes.size(), 1u);
	EXPECT_EQ(decoded->changes[0].old_row.size(), 3u);
	decoder.StartSession();
	try {
		decoder.Decode(insert);
		FAIL() << "no exception";
	} catch (const ChangeParseError &error) {
		EXPECT_NE(std::string(error.what()).find("no relation document for relid 16385"), std::string::npos)
			<< error.what();
	}
}

TEST(ChangeDecoder, RejectsBadVersion3Documents) {
	auto error_of = [](const std::string &message) -> std::string {
		ChangeDecoder decoder;
		try {
			decoder.Decode(kRelation + "\n" + message);
		} catch (const ChangeParseError &error) {
			return error.what();
		}
		return {};
	};
	EXPECT_NE(error_of(R"({"op":"insert","relid":16385,"new":[1,2]})").find("\"new\" has 2 values for 3 columns"),
			  std::string::npos);
	EXPECT_NE(error_of(R"({"op":"insert","relid":16385,"new":{"id":1}})").find("\"new\" is not an array"),
			  std::string::npos);
	EXPECT_NE(error_of(R"({"op":"update","relid":16385,"new":[1,null,null],"unchanged":[3]})")
				  .find("\"unchanged\" position 3 is out of range"),
			  std::string::npos);
	EXPECT_NE(error_of(R"({"op":"relation","relid":1,"schema":"s","table":"t","columns":[{"name":"a"}]})")
				  .find("missing \"columns[].type\""),
			  std::string::npos);
	EXPECT_NE(error_of(R"({"op":"relation","relid":1,"schema":"s","table":"t","identity":"x","columns":[]})")
				  .find("unknown \"identity\" \"x\""),
			  std::string::npos);
	EXPECT_NE(error_of(R"({"op":"relation","schema":"s","table":"t","columns":[]})").find("missing \"relid\""),
			  std::string::npos);
	EXPECT_THROW(ParseChange(kRelation), ChangeParseError); // not a change
}

// A decoded message is read by several threads at once (fan-out): nothing in it changes after Decode.
TEST(ChangeDecoder, ADecodedMessageIsReadOnly) {
	static_assert(!std::is_copy_constructible_v<Change>, "a Change copy could outlive its views");
	static_assert(!std::is_copy_constructible_v<DecodedMessage>);
	static_assert(
		std::is_same_v<decltype(std::declval<ChangeDecoder &>().Decode("")), std::shared_ptr<const DecodedMessage>>);
}

} // namespace
