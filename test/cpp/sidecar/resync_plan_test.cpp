/*
 * resync_plan_test.cpp
 *     The re-sync's pure half (app/resync_plan.hpp): bucket counts, a key's bucket as the source's SQL computes it
 *     (values pinned from mosta.canonical_row_hash on PostgreSQL), the target's bucket checksums against the
 *     source's, the keys to delete and write, the key text split back, and the delete documents (decoded again).
 */
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "app/resync_plan.hpp"
#include "decode/change.hpp"
#include "mosta/common/canonical_row.hpp"

namespace {

using namespace mosta::sidecar;

// HashOf returns FormatHash128's text of the canonical hash of a one-column row {v: value} (a stand-in row hash).
std::string
HashOf(const std::string &value) {
	std::vector<mosta::CanonicalColumn> row;
	row.push_back({"v", value});
	std::string encoded = mosta::EncodeCanonicalRow(std::move(row));
	char hex[mosta::kHash128HexSize + 1];
	mosta::FormatHash128(mosta::CanonicalRowHash(encoded.data(), encoded.size()), hex);
	return hex;
}

TEST(ResyncPlan, BucketCountFollowsTheRowsWithinBounds) {
	EXPECT_EQ(ResyncBucketCount(0), 1);
	EXPECT_EQ(ResyncBucketCount(kResyncRowsPerBucket - 1), 1);
	EXPECT_EQ(ResyncBucketCount(1600), 100);
	EXPECT_EQ(ResyncBucketCount(1'000'000'000), kResyncMaxBuckets);
}

TEST(ResyncPlan, KeyBucketIsWhatTheSourceComputes) {
	// SELECT (('x' || substr(mosta.canonical_row_hash(k.*), 1, 8))::bit(32)::bigint % 1000)::int
	//   FROM (VALUES ('42'), ('a\,b'), ('a0eebc99-...')) k(k)   -- 546, 203, 180
	EXPECT_EQ(KeyBucket("42", 1000), 546);
	EXPECT_EQ(KeyBucket("a\\,b", 1000), 203);
	EXPECT_EQ(KeyBucket("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", 1000), 180);
	EXPECT_EQ(KeyBucketSql("k", 1000),
			  "(('x' || substr(mosta.canonical_row_hash(k.*), 1, 8))::bit(32)::bigint % 1000)::int");
}

TEST(ResyncPlan, KeysSpreadOverEveryBucket) {
	std::set<int> seen;
	for (int i = 0; i < 10'000; ++i) {
		int bucket = KeyBucket(std::to_string(i), 64);
		ASSERT_GE(bucket, 0);
		ASSERT_LT(bucket, 64);
		seen.insert(bucket);
	}
	EXPECT_EQ(seen.size(), 64u);
}

TEST(ResyncPlan, OnlyTheBucketsOfChangedRowsDiffer) {
	std::map<std::string, std::string> source, target;
	for (int i = 0; i < 1000; ++i)
		source[std::to_string(i)] = target[std::to_string(i)] = HashOf("row " + std::to_string(i));
	const int buckets = ResyncBucketCount(1000);
	EXPECT_TRUE(DifferingBuckets(TargetBucketSums(source, buckets), TargetBucketSums(target, buckets)).empty());
	target["7"] = HashOf("changed");				// different
	target.erase("8");								// missing on the target
	target["5000"] = HashOf("extra on the target"); // extra
	std::set<int> differing = DifferingBuckets(TargetBucketSums(source, buckets), TargetBucketSums(target, buckets));
	std::set<int> expected{KeyBucket("7", buckets), KeyBucket("8", buckets), KeyBucket("5000", buckets)};
	EXPECT_EQ(differing, expected);
}

TEST(ResyncPlan, DiffKeysListsWhatToDeleteAndWrite) {
	std::map<std::string, std::string> target{{"1", HashOf("a")}, {"2", HashOf("b")}, {"4", HashOf("d")}};
	const int buckets = 4;
	std::set<int> differing{0, 1, 2, 3}; // every bucket
	// the source as read for the differing buckets: 1 equal, 2 changed, 3 missing on the target, 4 gone
	std::map<std::string, std::string> source{{"1", HashOf("a")}, {"2", HashOf("B")}, {"3", HashOf("c")}};
	KeyDiff diff = DiffKeys(source, target, differing, buckets);
	EXPECT_EQ(diff.remove, (std::vector<std::string>{"2", "4"}));
	EXPECT_EQ(diff.write, (std::vector<std::string>{"2", "3"}));
	EXPECT_EQ(diff.different, 1);
	EXPECT_EQ(diff.missing, 1);
	EXPECT_EQ(diff.extra, 1);
}

TEST(ResyncPlan, DiffKeysLeavesTheTargetsRowsOfEqualBucketsAlone) {
	std::map<std::string, std::string> target{{"1", HashOf("a")}, {"2", HashOf("b")}};
	const int buckets = 1000;
	std::set<int> differing{KeyBucket("1", buckets)};
	ASSERT_NE(KeyBucket("1", buckets), KeyBucket("2", buckets));
	KeyDiff diff = DiffKeys({}, target, differing, buckets); // "1" is gone from the source; "2" not compared
	EXPECT_EQ(diff.remove, (std::vector<std::string>{"1"}));
	EXPECT_TRUE(diff.write.empty());
}

TEST(ResyncPlan, MalformedTargetHashesAreRefused) {
	EXPECT_THROW(TargetBucketSums({{"1", "xyz"}}, 4), std::invalid_argument);
	EXPECT_THROW(TargetBucketSums({{"1", std::string(32, 'G')}}, 4), std::invalid_argument);
}

TEST(ResyncPlan, SplitKeyTextUndoesCanonicalKeyText) {
	std::vector<std::optional<std::string>> values{"1", "a,b", std::nullopt, "back\\slash", ""};
	EXPECT_EQ(SplitKeyText(mosta::CanonicalKeyText(values)), values);
	EXPECT_EQ(SplitKeyText("42"), (std::vector<std::optional<std::string>>{"42"}));
	EXPECT_THROW(SplitKeyText("dangling\\"), std::invalid_argument);
}

TEST(ResyncPlan, DeleteDocumentsWriteValuesAsThePluginDoes) {
	const std::string types = R"({"id":"integer","u":"uuid","f":"double precision","note":"text"})";
	std::string document = DeleteDocument("public", "t", {"id", "u", "f"}, {"integer", "uuid", "double precision"},
										  "7,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NaN", types);
	EXPECT_EQ(document, R"({"op":"delete","schema":"public","table":"t","key":["id","u","f"],)"
						R"("old":{"id":7,"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","f":"NaN"},"types":)" +
							types + "}");
	// the daemon's decoder reads it back as a delete of that key, with the declared types
	ParsedChange change = ParseChange(document, DecoderOptions{});
	EXPECT_EQ(change->op, Op::Delete);
	ASSERT_EQ(change->relation->key, (std::vector<std::string>{"id", "u", "f"}));
	EXPECT_EQ(change->relation->TypeOf("u"), "uuid");
	ASSERT_EQ(change->old_row.size(), 3u);
	EXPECT_EQ(change->old_row[0].value, Value(std::int64_t{7}));
	EXPECT_EQ(change->old_row[1].value, Value(std::string_view("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")));
}

TEST(ResyncPlan, DeleteDocumentsEscapeTextAndRefuseBadKeys) {
	EXPECT_EQ(DeleteDocument("s", "we\"ird", {"k"}, {"text"}, "a\\,\"b\"", ""),
			  R"({"op":"delete","schema":"s","table":"we\"ird","key":["k"],"old":{"k":"a,\"b\""}})");
	EXPECT_EQ(DeleteDocument("s", "t", {"b"}, {"boolean"}, "true", ""),
			  R"({"op":"delete","schema":"s","table":"t","key":["b"],"old":{"b":true}})");
	EXPECT_THROW(DeleteDocument("s", "t", {"a", "b"}, {"integer", "integer"}, "1", ""), std::invalid_argument);
	EXPECT_THROW(DeleteDocument("s", "t", {"a"}, {"integer"}, "\\N", ""), std::invalid_argument);
}

} // namespace
