// backfill_reader_test.cpp: BatchReader (migrate/src/backfill_reader.hpp) against mosta-test-mongod (or
// MOSTA_TEST_MONGO_URI's server): batches in _id order across BSON types, each with the checkpoint of its last
// document; resuming after any checkpoint reads exactly the documents after it (no document missing or doubled);
// a document whose _id the mapping cannot key is handed over as a rejected one, not an exception.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "../support/test_mongod.hpp"
#include "backfill_reader.hpp"
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"

namespace mm = mosta::migrate;

namespace {

constexpr const char *kMapping = R"json({"name": "reader_test", "collections": [
  {"collection": "things", "id": {"policy": "random"}, "fields": [{"path": "n", "column": "n", "type": "integer"}]}]})json";

class BatchReaderTest : public ::testing::Test {
  protected:
	static void
	SetUpTestSuite() {
		std::string error;
		uri_ = mosta::test::TestMongoUri(MOSTA_TEST_MONGOD_BIN, &pid_, &error);
		ASSERT_FALSE(uri_.empty()) << error;
	}
	static void
	TearDownTestSuite() {
		if (pid_ > 0)
			mosta::test::StopTestMongod(pid_);
		pid_ = -1;
	}

	void
	SetUp() override {
		database_ = "mosta_batch_reader_" + std::to_string(getpid());
		source_.emplace(uri_, database_);
		mapping_ = mosta::mapping::ParseMapping(kMapping, "reader.json");
		mongoc_collection_t *things = mongoc_client_get_collection(source_->Client(), database_.c_str(), "things");
		mongoc_collection_drop(things, nullptr);
		// ints, strings and ObjectIds, inserted out of order; n counts them in _id order
		const char *docs[] = {R"({"_id": "b", "n": 5})", R"({"_id": {"$oid": "65920a58010000000000002a"}, "n": 7})",
							  R"({"_id": 3, "n": 2})",	 R"({"_id": {"$numberLong": "1"}, "n": 1})",
							  R"({"_id": "a", "n": 4})", R"({"_id": 10, "n": 3})",
							  R"({"_id": "c", "n": 6})", R"({"_id": {"$oid": "65920a58010000000000002b"}, "n": 8})"};
		for (const char *json : docs) {
			bson_error_t error;
			bson_t *doc = bson_new_from_json(reinterpret_cast<const std::uint8_t *>(json), -1, &error);
			ASSERT_NE(doc, nullptr) << error.message;
			ASSERT_TRUE(mongoc_collection_insert_one(things, doc, nullptr, nullptr, &error)) << error.message;
			bson_destroy(doc);
		}
		mongoc_collection_destroy(things);
	}
	void
	TearDown() override {
		if (!source_)
			return;
		mongoc_database_t *db = mongoc_client_get_database(source_->Client(), database_.c_str());
		mongoc_database_drop(db, nullptr);
		mongoc_database_destroy(db);
	}

	// ReadAll reads after last_id in batches of batch: the legacy ids, and each batch's checkpoint.
	std::vector<std::string>
	ReadAll(std::optional<std::string> last_id, std::int64_t batch, std::vector<std::string> *checkpoints = nullptr) {
		mm::BatchReader reader(*source_, mapping_, mapping_.collections[0], std::move(last_id), batch);
		std::vector<std::string> ids;
		mm::ReadBatch read;
		while (reader.Next(read)) {
			EXPECT_LE(static_cast<std::int64_t>(read.docs.size()), batch);
			for (const auto &doc : read.docs)
				ids.push_back(doc.legacy_id);
			if (checkpoints != nullptr)
				checkpoints->push_back(read.last_id);
		}
		return ids;
	}

	static inline std::string uri_;
	static inline pid_t pid_ = -1;
	std::string database_;
	std::optional<mm::MongoSource> source_;
	mosta::mapping::Mapping mapping_;
};

TEST_F(BatchReaderTest, BatchesFollowIdOrderAndResumeExactly) {
	std::vector<std::string> checkpoints;
	std::vector<std::string> all = ReadAll(std::nullopt, 3, &checkpoints);
	std::vector<std::string> expected = {
		"1", "3", "10", "a", "b", "c", "65920a58010000000000002a", "65920a58010000000000002b"};
	EXPECT_EQ(all, expected);
	ASSERT_EQ(checkpoints.size(), 3U);
	// the checkpoint keeps the BSON type: 10 (a number), "c" (a string), an ObjectId
	EXPECT_EQ(checkpoints[0], R"({ "_id" : 10 })");
	EXPECT_EQ(checkpoints[1], R"({ "_id" : "c" })");
	EXPECT_EQ(checkpoints[2], R"({ "_id" : { "$oid" : "65920a58010000000000002b" } })");
	// resuming after each checkpoint reads exactly the rest
	EXPECT_EQ(ReadAll(checkpoints[0], 100), std::vector<std::string>(expected.begin() + 3, expected.end()));
	EXPECT_EQ(ReadAll(checkpoints[1], 2), std::vector<std::string>(expected.begin() + 6, expected.end()));
	EXPECT_TRUE(ReadAll(checkpoints[2], 3).empty());
}

TEST_F(BatchReaderTest, AnUnusableIdIsARejectedDocument) {
	mongoc_collection_t *things = mongoc_client_get_collection(source_->Client(), database_.c_str(), "things");
	bson_t *doc = BCON_NEW("_id", BCON_DOUBLE(2.5), "n", BCON_INT32(9));
	bson_error_t error;
	ASSERT_TRUE(mongoc_collection_insert_one(things, doc, nullptr, nullptr, &error)) << error.message;
	bson_destroy(doc);
	mongoc_collection_destroy(things);
	mm::BatchReader reader(*source_, mapping_, mapping_.collections[0], std::nullopt, 100);
	mm::ReadBatch read;
	ASSERT_TRUE(reader.Next(read));
	ASSERT_EQ(read.docs.size(), 9U);
	const auto &rejected = read.docs[1]; // 1, 2.5, 3, ...
	EXPECT_EQ(rejected.legacy_id, "2.5");
	ASSERT_EQ(rejected.problems.size(), 1U);
	EXPECT_EQ(rejected.problems[0].field, "_id");
}

TEST_F(BatchReaderTest, AnUnreadableCheckpointIsAnError) {
	mm::BatchReader reader(*source_, mapping_, mapping_.collections[0], std::string("{not json"), 10);
	mm::ReadBatch read;
	EXPECT_THROW(reader.Next(read), std::runtime_error);
}

TEST_F(BatchReaderTest, DestroyingAReaderMidwayStopsIt) {
	// two batches ahead at most: the reader waits for the writer, and its destructor must not hang
	mm::BatchReader reader(*source_, mapping_, mapping_.collections[0], std::nullopt, 1);
	mm::ReadBatch read;
	ASSERT_TRUE(reader.Next(read));
	EXPECT_EQ(read.docs.size(), 1U);
}

} // namespace
