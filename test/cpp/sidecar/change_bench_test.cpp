/*
 * change_bench_test.cpp
 *     Parse throughput of ChangeDecoder on a realistic message: a 64 KB batch of format-version-2 row changes with
 *     include-types, and the same rows in version 3 (a relation document, then values by position). Disabled by
 *     default (a measurement, not a test; no threshold): run it from a Release build with
 *       build-rel/test/cpp/sidecar/sidecar_tests --gtest_also_run_disabled_tests --gtest_filter='*ParseThroughput*'
 */
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "decode/change.hpp"

namespace {
inline std::string
BenchRowV2(int i) {
	return R"js({"op":"insert","xid":727,"lsn":"0/19E3320","schema":"public","table":"bench_rows","key":["id"],"new":{"id":)js" +
		   std::to_string(i) + R"js(,"n":)js" + std::to_string(i * 7) + R"js(,"label":"row )js" + std::to_string(i) +
		   R"js(","amount":"1.37","at":"2024-01-01T00:00:01+00:00","doc":"{\"k\": 1, \"tag\": \"bench\", \"even\": false}","flag":false},"types":{"id":"bigint","n":"integer","label":"text","amount":"numeric(14,2)","at":"timestamp with time zone","doc":"jsonb","flag":"boolean"}})js";
}
inline std::string
BenchRowV3(int i) {
	return R"js({"op":"insert","xid":727,"lsn":"0/19E3320","relid":16385,"new":[)js" + std::to_string(i) + "," +
		   std::to_string(i * 7) + R"js(,"row )js" + std::to_string(i) +
		   R"js(","1.37","2024-01-01T00:00:01+00:00","{\"k\": 1, \"tag\": \"bench\", \"even\": false}",false]})js";
}
inline const char *kBenchRelation =
	R"js({"op":"relation","relid":16385,"schema":"public","table":"bench_rows","identity":"default","key":["id"],"columns":[{"name":"id","type":"bigint","oid":20,"typmod":-1,"dims":0},{"name":"n","type":"integer","oid":23,"typmod":-1,"dims":0},{"name":"label","type":"text","oid":25,"typmod":-1,"dims":0},{"name":"amount","type":"numeric(14,2)","oid":1700,"typmod":917510,"dims":0},{"name":"at","type":"timestamp with time zone","oid":1184,"typmod":-1,"dims":0},{"name":"doc","type":"jsonb","oid":3802,"typmod":-1,"dims":0},{"name":"flag","type":"boolean","oid":16,"typmod":-1,"dims":0}]})js";
// BenchMessage returns one batch of about 64 KB: begin, rows, commit (version 3: the relation document first).
inline std::string
BenchMessage(bool v3, int &rows) {
	std::string message =
		R"js({"op":"begin","xid":727,"ts":"2026-11-22T19:42:29.508398+00:00","commit_lsn":"0/1A59B18"})js";
	if (v3)
		message += std::string("\n") + kBenchRelation;
	rows = 0;
	while (message.size() < 65536)
		message += "\n" + (v3 ? BenchRowV3(rows) : BenchRowV2(rows)), ++rows;
	message +=
		"\n"
		R"js({"op":"commit","xid":727,"lsn":"0/1A59B18","end_lsn":"0/1A59B48","ts":"2026-11-22T19:42:29.508398+00:00"})js";
	return message;
}

// Decodes one 64 KB message kMessages times and prints MB/s and documents/s.
void
Measure(bool v3) {
	constexpr int kMessages = 3000;
	int rows = 0;
	std::string message = BenchMessage(v3, rows);
	mosta::sidecar::ChangeDecoder decoder;
	std::size_t documents = 0;
	auto start = std::chrono::steady_clock::now();
	for (int i = 0; i < kMessages; ++i)
		documents += decoder.Decode(message)->changes.size();
	double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	std::printf(
		"format version %d: %zu-byte message of %d rows, %d messages in %.3f s: %.1f MB/s, %.0f k documents/s\n",
		v3 ? 3 : 2, message.size(), rows, kMessages, seconds,
		static_cast<double>(message.size()) * kMessages / seconds / 1e6, documents / seconds / 1e3);
	EXPECT_EQ(documents, static_cast<std::size_t>(rows + 2) * kMessages);
}

TEST(ChangeDecoderBench, DISABLED_ParseThroughput) {
	Measure(false);
	Measure(true);
}

} // namespace
