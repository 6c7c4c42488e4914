/*
 * change_test.cpp
 *     Unit tests for ParseChange and ParseChangeLines, on the documents printed in docs/protocol.md.
 */
#include "decode/change.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <gtest/gtest.h>

#include "decode/fast_change.hpp"

namespace {

using mosta::sidecar::Change;
using mosta::sidecar::ChangeParseError;
using mosta::sidecar::Column;
using mosta::sidecar::Op;
using mosta::sidecar::ParseChange;
using mosta::sidecar::ParseChangeLines;
using mosta::sidecar::RawJson;
using mosta::sidecar::UnknownOpError;
using mosta::sidecar::Value;

// ColumnValue returns the value of column name in row, failing the test when it is absent.
Value
ColumnValue(const std::vector<Column> &row, const std::string &name) {
	for (const Column &column : row)
		if (column.name == name)
			return column.value;
	ADD_FAILURE() << "no column " << name;
	return {};
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
	Change begin =
		ParseChange(R"({"op":"begin","xid":725,"ts":"2026-11-22T17:50:00.335859+00:00","commit_lsn":"0/15397E8"})");
	EXPECT_EQ(begin.op, Op::Begin);
	EXPECT_EQ(begin.xid, 725u);
	EXPECT_EQ(begin.ts, "2026-11-22T17:50:00.335859+00:00");
	EXPECT_EQ(begin.commit_lsn, "0/15397E8");
	EXPECT_TRUE(begin.lsn.empty());

	Change commit = ParseChange(
		R"({"op":"commit","xid":725,"ts":"2026-11-22T17:50:00.335859+00:00","lsn":"0/15397E8","end_lsn":"0/1539818"})");
	EXPECT_EQ(commit.op, Op::Commit);
	EXPECT_EQ(commit.lsn, "0/15397E8");
	EXPECT_EQ(commit.end_lsn, "0/1539818");

	Change bare = ParseChange(R"({"op":"commit"})");
	EXPECT_EQ(bare.op, Op::Commit);
	EXPECT_FALSE(bare.xid.has_value());
}

TEST(ParseChange, ReadsInsertUpdateDelete) {
	Change insert = ParseChange(R"({"op":"insert","xid":725,"lsn":"0/1539700","schema":"public","table":"orders",)"
								R"("key":["id"],"new":{"id":1,"item":"apple","qty":3}})");
	EXPECT_EQ(insert.op, Op::Insert);
	EXPECT_EQ(insert.lsn, "0/1539700");
	EXPECT_EQ(insert.schema, "public");
	EXPECT_EQ(insert.table, "orders");
	EXPECT_EQ(insert.key, std::vector<std::string>{"id"});
	ASSERT_EQ(insert.new_row.size(), 3u);
	EXPECT_EQ(insert.new_row[0], (Column{"id", std::int64_t{1}}));
	EXPECT_EQ(insert.new_row[1], (Column{"item", std::string("apple")}));
	EXPECT_EQ(insert.new_row[2], (Column{"qty", std::int64_t{3}}));
	EXPECT_TRUE(insert.has_new);
	EXPECT_FALSE(insert.has_old);

	Change update = ParseChange(R"({"op":"update","schema":"public","table":"docs","key":["id"],)"
								R"("new":{"id":2,"title":"b"},"old":{"id":1},"unchanged":["body"]})");
	EXPECT_EQ(update.op, Op::Update);
	EXPECT_TRUE(update.has_old);
	EXPECT_EQ(update.old_row, (std::vector<Column>{{"id", std::int64_t{1}}}));
	EXPECT_EQ(update.unchanged, std::vector<std::string>{"body"});

	Change del = ParseChange(R"({"op":"delete","schema":"public","table":"orders","key":["id"],"old":{"id":2}})");
	EXPECT_EQ(del.op, Op::Delete);
	EXPECT_FALSE(del.has_new);
	EXPECT_EQ(del.old_row, (std::vector<Column>{{"id", std::int64_t{2}}}));

	Change nothing = ParseChange(R"({"op":"delete","schema":"public","table":"nothing_t","key":["id"]})");
	EXPECT_FALSE(nothing.has_old);
	Change nokey = ParseChange(R"({"op":"insert","schema":"public","table":"nokey","new":{"a":1,"b":"x"}})");
	EXPECT_TRUE(nokey.key.empty());
}

TEST(ParseChange, KeepsColumnOrderOfTheDocument) {
	Change change = ParseChange(R"({"op":"insert","schema":"s","table":"t","new":{"z":1,"a":2,"m":3,"b":4}})");
	std::vector<std::string> names;
	for (const Column &column : change.new_row)
		names.push_back(column.name);
	EXPECT_EQ(names, (std::vector<std::string>{"z", "a", "m", "b"}));
}

TEST(ParseChange, ReadsEveryValueFamilyExactly) {
	Change change = ParseChange(
		R"({"op":"insert","schema":"public","table":"v","key":["id"],"new":{"id":1,"i8":9223372036854775807,)"
		R"("o":4294967295,"f4":3.14,"f8":0.1,"n":"12.500","b":true,"j":{"a":  1},"jb":{"a": null, "b": [1, "x"]},)"
		R"("by":"\\x00ff10","t":"tab\t\"q\" é","c":"x  ","tstz":"2024-05-01T10:30:00.5+00:00",)"
		R"("iv":"P1Y2M3DT4H5M6.5S","arr":[1,null,3],"arr2":[["a","b"],["c","d e"]],"q":7,"m":"happy",)"
		R"js("p":"(1,\"x y\")","big":123456789012345678901234567890,"neg0":-0,"e":1e+300,"small":1e-07,"nul":null},)js"
		R"js("types":{"id":"integer","i8":"bigint","n":"numeric(10,3)","arr":"integer[]","q":"public.qty"}})js");
	const auto &row = change.new_row;
	EXPECT_EQ(ColumnValue(row, "i8"), Value(std::numeric_limits<std::int64_t>::max()));
	EXPECT_EQ(ColumnValue(row, "o"), Value(std::int64_t{4294967295}));
	EXPECT_EQ(ColumnValue(row, "f4"), Value(3.14));
	EXPECT_EQ(ColumnValue(row, "f8"), Value(0.1));
	EXPECT_EQ(ColumnValue(row, "n"), Value(std::string("12.500")));
	EXPECT_EQ(ColumnValue(row, "b"), Value(true));
	EXPECT_EQ(ColumnValue(row, "j"), Value(RawJson{R"({"a":  1})"}));
	EXPECT_EQ(ColumnValue(row, "jb"), Value(RawJson{R"({"a": null, "b": [1, "x"]})"}));
	EXPECT_EQ(ColumnValue(row, "by"), Value(std::string("\\x00ff10")));
	EXPECT_EQ(ColumnValue(row, "t"), Value(std::string("tab\t\"q\" é")));
	EXPECT_EQ(ColumnValue(row, "c"), Value(std::string("x  ")));
	EXPECT_EQ(ColumnValue(row, "arr"), Value(RawJson{"[1,null,3]"}));
	EXPECT_EQ(ColumnValue(row, "arr2"), Value(RawJson{R"([["a","b"],["c","d e"]])"}));
	EXPECT_EQ(ColumnValue(row, "q"), Value(std::int64_t{7}));
	EXPECT_EQ(ColumnValue(row, "p"), Value(std::string("(1,\"x y\")")));
	EXPECT_EQ(ColumnValue(row, "big"), Value(std::string("123456789012345678901234567890")));
	Value neg0 = ColumnValue(row, "neg0");
	ASSERT_TRUE(std::holds_alternative<double>(neg0));
	EXPECT_TRUE(std::signbit(std::get<double>(neg0)));
	EXPECT_EQ(ColumnValue(row, "e"), Value(1e300));
	EXPECT_EQ(ColumnValue(row, "small"), Value(1e-7));
	EXPECT_TRUE(mosta::sidecar::IsNull(ColumnValue(row, "nul")));
	EXPECT_EQ(change.types.at("n"), "numeric(10,3)");
	EXPECT_EQ(change.types.at("q"), "public.qty");
	EXPECT_EQ(change.types.size(), 5u);
}

// Format version 2 (kFormatVersion): json and jsonb values are strings of their JSON text, so the JSON null
// ("null") and SQL NULL (null) arrive apart, in columns and in json[] elements; both parse paths agree.
TEST(ParseChange, ReadsFormatVersion2JsonValuesApartFromSqlNull) {
	const std::string document =
		R"({"op":"insert","schema":"public","table":"j","key":["id"],"new":{"id":1,"sql_null":null,)"
		R"("json_null":"null","obj":"{\"a\": null, \"b\": [1, \"x\"]}","str":"\"null\"","nl":"{\"a\":\n 1}",)"
		R"("arr":["null",null,"{\"k\": null}"]},"types":{"id":"integer","sql_null":"jsonb","json_null":"jsonb",)"
		R"("obj":"jsonb","str":"json","nl":"json","arr":"jsonb[]"}})";
	for (const Change &change : {ParseChange(document), mosta::sidecar::ParseChangeWithCJson(document)}) {
		const auto &row = change.new_row;
		EXPECT_TRUE(mosta::sidecar::IsNull(ColumnValue(row, "sql_null")));
		EXPECT_EQ(ColumnValue(row, "json_null"), Value(std::string("null")));
		EXPECT_EQ(ColumnValue(row, "obj"), Value(std::string(R"({"a": null, "b": [1, "x"]})")));
		EXPECT_EQ(ColumnValue(row, "str"), Value(std::string(R"("null")")));
		EXPECT_EQ(ColumnValue(row, "nl"), Value(std::string("{\"a\":\n 1}")));
		EXPECT_EQ(ColumnValue(row, "arr"), Value(RawJson{R"(["null",null,"{\"k\": null}"])"}));
	}
	Change fast;
	EXPECT_TRUE(mosta::sidecar::TryParseChangeFast(document, fast));
}

TEST(ParseChange, ReadsSpecialFloatsAndEscapes) {
	Change change = ParseChange(R"({"op":"insert","schema":"public","table":"v","new":{"f4":"NaN",)"
								R"("f8":"-Infinity","u":"caf\u00e9 \ud83d\ude00","ws":  [ 1 , 2 ] }})");
	EXPECT_EQ(ColumnValue(change.new_row, "f4"), Value(std::string("NaN")));
	EXPECT_EQ(ColumnValue(change.new_row, "f8"), Value(std::string("-Infinity")));
	EXPECT_EQ(ColumnValue(change.new_row, "u"), Value(std::string("café 😀")));
	EXPECT_EQ(ColumnValue(change.new_row, "ws"), Value(RawJson{"[ 1 , 2 ]"}));
}

TEST(ParseChange, ReadsTruncateWithPartitions) {
	Change change = ParseChange(R"({"op":"truncate","xid":9,"lsn":"0/1","tables":[{"schema":"public","table":"m"},)"
								R"({"schema":"public","table":"m","partition":{"schema":"public","table":"m_2024"}}],)"
								R"("cascade":false,"restart_identity":true})");
	EXPECT_EQ(change.op, Op::Truncate);
	ASSERT_EQ(change.truncate_tables.size(), 2u);
	EXPECT_EQ(change.truncate_tables[0].table, "m");
	EXPECT_FALSE(change.truncate_tables[0].partition.has_value());
	ASSERT_TRUE(change.truncate_tables[1].partition.has_value());
	EXPECT_EQ(change.truncate_tables[1].partition->table, "m_2024");
	EXPECT_FALSE(change.cascade);
	EXPECT_TRUE(change.restart_identity);
}

TEST(ParseChange, ReadsMessages) {
	Change embedded = ParseChange(R"({"op":"message","xid":724,"lsn":"0/1511B98","transactional":true,)"
								  R"("prefix":"mostajs.demo","content":{"k": [1,  2]}})");
	EXPECT_EQ(embedded.op, Op::Message);
	EXPECT_TRUE(embedded.transactional);
	EXPECT_EQ(embedded.prefix, "mostajs.demo");
	EXPECT_EQ(embedded.content, Value(RawJson{R"({"k": [1,  2]})"}));

	Change base64 = ParseChange(R"({"op":"message","xid":724,"lsn":"0/1511C58","transactional":true,"prefix":"app",)"
								R"("encoding":"base64","content":"AP8="})");
	EXPECT_EQ(base64.encoding, "base64");
	EXPECT_EQ(base64.content, Value(std::string("AP8=")));

	Change plain = ParseChange(
		R"({"op":"message","lsn":"0/1511CD0","transactional":false,"prefix":"app.audit","content":"line1\nline2"})");
	EXPECT_FALSE(plain.transactional);
	EXPECT_FALSE(plain.xid.has_value());
	EXPECT_EQ(plain.content, Value(std::string("line1\nline2")));
}

TEST(ParseChange, ReadsTwoPhaseAndOriginDocuments) {
	Change begin = ParseChange(R"({"op":"begin","ts":"2026-11-22T17:50:24.765728+00:00","gid":"order-1",)"
							   R"("commit_lsn":"0/1531AE0"})");
	EXPECT_EQ(begin.gid, "order-1");
	Change prepare = ParseChange(R"({"op":"prepare","gid":"order-1","lsn":"0/1531AE0","end_lsn":"0/1531BD8"})");
	EXPECT_EQ(prepare.op, Op::Prepare);
	EXPECT_EQ(prepare.end_lsn, "0/1531BD8");
	EXPECT_EQ(ParseChange(R"({"op":"commit_prepared","gid":"order-1","lsn":"0/1531BD8","end_lsn":"0/1531C18"})").op,
			  Op::CommitPrepared);
	EXPECT_EQ(ParseChange(R"({"op":"rollback_prepared","gid":"order-2"})").op, Op::RollbackPrepared);
	EXPECT_EQ(ParseChange(R"({"op":"begin","origin":"node_b"})").origin, "node_b");
}

TEST(ParseChange, IgnoresUnknownFields) {
	Change change = ParseChange(R"({"op":"insert","future":{"x":[1]},"schema":"s","table":"t","new":{"a":1},"z":2})");
	EXPECT_EQ(change.new_row.size(), 1u);
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
	std::vector<Change> changes = ParseChangeLines(message);
	ASSERT_EQ(changes.size(), 4u);
	EXPECT_EQ(changes[0].op, Op::Begin);
	EXPECT_EQ(changes[1].new_row[1].value, Value(std::string("v1")));
	EXPECT_EQ(changes[2].new_row[0].value, Value(std::int64_t{2}));
	EXPECT_EQ(changes[3].op, Op::Commit);
	EXPECT_EQ(ParseChangeLines(R"({"op":"commit"})").size(), 1u);
	EXPECT_TRUE(ParseChangeLines("").empty());
}

TEST(ParseChangeLines, FailsOnABadDocumentInsideABatch) {
	EXPECT_THROW(ParseChangeLines("{\"op\":\"begin\"}\n{\"op\":\n{\"op\":\"commit\"}"), ChangeParseError);
}

// Outcome describes what a parser made of a document: every field of the Change, or the exception's type and text.
std::string
Outcome(const std::function<Change()> &parse) {
	std::ostringstream out;
	try {
		Change c = parse();
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
		auto row = [&](const std::vector<Column> &columns) {
			for (const Column &column : columns) {
				out << column.name << '=';
				value(column.value);
			}
			out << ';';
		};
		out << static_cast<int>(c.op) << ' ' << (c.xid ? std::to_string(*c.xid) : "-") << ' ' << c.ts << ' ' << c.origin
			<< ' ' << c.gid << ' ' << c.lsn << ' ' << c.commit_lsn << ' ' << c.end_lsn << ' ' << c.schema << ' '
			<< c.table << ' ' << c.has_new << c.has_old << c.cascade << c.restart_identity << c.transactional << ' '
			<< c.prefix << ' ' << c.encoding << ' ' << c.raw << '\n';
		for (const std::string &name : c.key)
			out << name << ',';
		row(c.new_row);
		row(c.old_row);
		for (const std::string &name : c.unchanged)
			out << name << ',';
		for (const auto &[name, type] : c.types)
			out << name << ':' << type << ',';
		for (const auto &target : c.truncate_tables)
			out << target.schema << '.' << target.table << '/'
				<< (target.partition ? target.partition->schema + "." + target.partition->table : "-") << ',';
		value(c.content);
	} catch (const UnknownOpError &error) {
		out << "UnknownOpError " << error.OpText() << ' ' << error.what();
	} catch (const ChangeParseError &error) {
		out << "ChangeParseError " << error.what();
	} catch (const std::exception &error) {
		out << "exception " << error.what();
	}
	return out.str();
}

// Documents that probe the edges of the fast path's subset (fast_change.hpp): each must come out of ParseChange
// exactly as it comes out of the cJSON reference path, whichever path ParseChange took.
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

TEST(ParseChange, FastPathReadsEveryDocumentAsTheCJsonPathDoes) {
	for (const std::string &document : kEdgeDocuments) {
		SCOPED_TRACE(document);
		EXPECT_EQ(Outcome([&] { return ParseChange(document); }),
				  Outcome([&] { return mosta::sidecar::ParseChangeWithCJson(document); }));
	}
}

TEST(ParseChange, FastPathTakesTheCommonDocumentsAndLeavesTheRest) {
	for (std::size_t i = 0; i < 7; ++i) {
		Change change;
		EXPECT_TRUE(mosta::sidecar::TryParseChangeFast(kEdgeDocuments[i], change)) << kEdgeDocuments[i];
	}
	for (const char *document : {R"({"op":"begin","gid":"\u0067"})", "\xEF\xBB\xBF{\"op\":\"begin\"}",
								 R"({"op":"insert","schema":"s","table":"t","new":{"a":01}})",
								 R"({"op":"stream_start"})", R"({"op":"begin","xid":-1})"}) {
		Change change;
		EXPECT_FALSE(mosta::sidecar::TryParseChangeFast(document, change)) << document;
	}
}

TEST(ParseChange, FastPathReadsADocumentOfManyValuesThenSmallOnes) {
	std::string array = "[0";
	for (int i = 1; i < 20000; ++i)
		array += "," + std::to_string(i);
	array += "]";
	std::string big = R"({"op":"insert","schema":"s","table":"t","new":{"a":)" + array + R"(,"b":7}})";
	Change change;
	ASSERT_TRUE(mosta::sidecar::TryParseChangeFast(big, change));
	EXPECT_EQ(ColumnValue(change.new_row, "a"), Value(RawJson{array}));
	EXPECT_EQ(ColumnValue(change.new_row, "b"), Value(std::int64_t{7}));
	EXPECT_EQ(ParseChange(kEdgeDocuments[3]).old_row.size(), 1u);
}

TEST(ParseChangeLines, MixesFastAndFallbackDocuments) {
	std::vector<Change> changes = ParseChangeLines(std::string(R"({"op":"begin","gid":"\u0067"})") + "\n" +
												   R"({"op":"stream_start"})" + "\n" + R"({"op":"begin","gid":"h"})");
	ASSERT_EQ(changes.size(), 2u);
	EXPECT_EQ(changes[0].gid, "g");
	EXPECT_EQ(changes[1].gid, "h");
}

} // namespace
