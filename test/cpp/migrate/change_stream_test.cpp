// change_stream_test.cpp
//     ChangeStream (migrate/src/change_stream.hpp) through mongo-c-driver against mosta-test-mongod's change streams
//     (or MOSTA_TEST_MONGO_URI's server, a replica set member): a new stream has a position before any event; data
//     changes come back in order with their full documents (updateLookup: the document as it is when read, null once
//     deleted); an empty read means drained; resuming after an event's token gives the events after it, resuming
//     after the last position gives nothing, from a position the server does not hold is ChangeStreamHistoryLost;
//     DecodeChangeEvent reads the server's own event documents.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "../support/test_mongod.hpp"
#include "change_stream.hpp"
#include "mongo_source.hpp"

namespace mm = mosta::migrate;

namespace {

// kAwaitMs is how long a read waits for events; the tests write before they read, so it only bounds an empty read.
constexpr int kAwaitMs = 300;

class ChangeStreamTest : public ::testing::Test {
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
		database_ = "mosta_change_stream_" + std::to_string(getpid()) + "_" +
					::testing::UnitTest::GetInstance()->current_test_info()->name();
		source_.emplace(uri_, database_);
	}
	void
	TearDown() override {
		if (!source_)
			return;
		mongoc_database_t *db = mongoc_client_get_database(source_->Client(), database_.c_str());
		mongoc_database_drop(db, nullptr);
		mongoc_database_destroy(db);
	}

	void
	Run(const char *collection, const std::string &command_json) {
		mosta::sidecar::BsonHandle command = mm::ParseToken(command_json);
		bson_error_t error;
		mongoc_collection_t *handle = mongoc_client_get_collection(source_->Client(), database_.c_str(), collection);
		bool ok = mongoc_collection_write_command_with_opts(handle, command.get(), nullptr, nullptr, &error);
		mongoc_collection_destroy(handle);
		ASSERT_TRUE(ok) << command_json << ": " << error.message;
	}
	void
	Insert(const char *collection, const std::string &doc) {
		Run(collection, std::string("{\"insert\": \"") + collection + "\", \"documents\": [" + doc + "]}");
	}
	void
	Update(const char *collection, const std::string &filter, const std::string &update) {
		Run(collection, std::string("{\"update\": \"") + collection + "\", \"updates\": [{\"q\": " + filter +
							", \"u\": " + update + "}]}");
	}
	void
	Delete(const char *collection, const std::string &filter) {
		Run(collection,
			std::string("{\"delete\": \"") + collection + "\", \"deletes\": [{\"q\": " + filter + ", \"limit\": 1}]}");
	}

	// Drain reads until the stream is drained; returns "op coll key [full document]" per event.
	static std::vector<std::string>
	Drain(mm::ChangeStream &stream, std::vector<std::string> *tokens = nullptr) {
		std::vector<std::string> events;
		while (std::optional<mm::ChangeEvent> event = stream.Next()) {
			std::string line = event->operation + " " + event->collection;
			if (event->key)
				line += " " + mosta::sidecar::BsonToRelaxedJson(event->key.get());
			line += event->full_document ? " " + mosta::sidecar::BsonToRelaxedJson(event->full_document.get())
										 : std::string(" -");
			events.push_back(line);
			if (tokens != nullptr)
				tokens->push_back(mm::TokenJson(event->token.get()));
		}
		return events;
	}

	static std::string uri_;
	static pid_t pid_;
	std::string database_;
	std::optional<mm::MongoSource> source_;
};

std::string ChangeStreamTest::uri_;
pid_t ChangeStreamTest::pid_ = -1;

TEST_F(ChangeStreamTest, ANewStreamHasAPositionBeforeAnyEvent) {
	mm::ChangeStream stream(*source_, "", kAwaitMs, 100);
	std::string start = stream.ResumeToken();
	if (start.empty()) { // a server may give the position only with the first getMore
		EXPECT_FALSE(stream.Next().has_value());
		start = stream.ResumeToken();
	}
	EXPECT_NE(start.find("_data"), std::string::npos) << start;

	Insert("items", "{\"_id\": 1, \"v\": \"a\"}");
	mm::ChangeStream resumed(*source_, start, kAwaitMs, 100);
	std::vector<std::string> events = Drain(resumed);
	ASSERT_EQ(events.size(), 1u);
	EXPECT_EQ(events[0], "insert items { \"_id\" : 1 } { \"_id\" : 1, \"v\" : \"a\" }");
}

TEST_F(ChangeStreamTest, DataChangesComeInOrderWithTheirDocuments) {
	mm::ChangeStream stream(*source_, "", kAwaitMs, 100);
	Insert("items", "{\"_id\": 1, \"v\": \"a\"}");
	Insert("others", "{\"_id\": \"x\"}");
	Update("items", "{\"_id\": 1}", "{\"$set\": {\"v\": \"b\"}}");
	Update("items", "{\"_id\": 1}", "{\"_id\": 1, \"w\": 2}");
	Delete("items", "{\"_id\": 1}");
	std::vector<std::string> events = Drain(stream);
	ASSERT_EQ(events.size(), 5u);
	EXPECT_EQ(events[0], "insert items { \"_id\" : 1 } { \"_id\" : 1, \"v\" : \"a\" }");
	EXPECT_EQ(events[1], "insert others { \"_id\" : \"x\" } { \"_id\" : \"x\" }");
	// updateLookup reads the document when the event is read: deleted by then, so null
	EXPECT_EQ(events[2], "update items { \"_id\" : 1 } -");
	EXPECT_EQ(events[3], "replace items { \"_id\" : 1 } { \"_id\" : 1, \"w\" : 2 }");
	EXPECT_EQ(events[4], "delete items { \"_id\" : 1 } -");
	EXPECT_FALSE(stream.ResumeToken().empty());
}

TEST_F(ChangeStreamTest, AnUpdateCarriesTheCurrentDocument) {
	Insert("items", "{\"_id\": 7, \"n\": 1}");
	mm::ChangeStream stream(*source_, "", kAwaitMs, 100);
	Update("items", "{\"_id\": 7}", "{\"$inc\": {\"n\": 1}}");
	std::vector<std::string> events = Drain(stream);
	ASSERT_EQ(events.size(), 1u);
	EXPECT_EQ(events[0], "update items { \"_id\" : 7 } { \"_id\" : 7, \"n\" : 2 }");
}

TEST_F(ChangeStreamTest, ResumingAfterATokenGivesWhatFollows) {
	mm::ChangeStream stream(*source_, "", kAwaitMs, 100);
	Insert("items", "{\"_id\": 1}");
	Insert("items", "{\"_id\": 2}");
	Insert("items", "{\"_id\": 3}");
	std::vector<std::string> tokens;
	ASSERT_EQ(Drain(stream, &tokens).size(), 3u);
	std::string end = stream.ResumeToken();

	mm::ChangeStream after_first(*source_, tokens[0], kAwaitMs, 100);
	std::vector<std::string> events = Drain(after_first);
	ASSERT_EQ(events.size(), 2u);
	EXPECT_EQ(events[0], "insert items { \"_id\" : 2 } { \"_id\" : 2 }");

	mm::ChangeStream at_end(*source_, end, kAwaitMs, 100);
	EXPECT_TRUE(Drain(at_end).empty());
	Insert("items", "{\"_id\": 4}");
	events = Drain(at_end);
	ASSERT_EQ(events.size(), 1u);
	EXPECT_EQ(events[0], "insert items { \"_id\" : 4 } { \"_id\" : 4 }");
}

TEST_F(ChangeStreamTest, ADropIsAnEvent) {
	Insert("items", "{\"_id\": 1}");
	mm::ChangeStream stream(*source_, "", kAwaitMs, 100);
	mongoc_collection_t *handle = mongoc_client_get_collection(source_->Client(), database_.c_str(), "items");
	ASSERT_TRUE(mongoc_collection_drop(handle, nullptr));
	mongoc_collection_destroy(handle);
	std::optional<mm::ChangeEvent> event = stream.Next();
	ASSERT_TRUE(event.has_value());
	EXPECT_EQ(event->op, mm::ChangeOp::Drop);
	EXPECT_EQ(event->collection, "items");
}

TEST_F(ChangeStreamTest, APositionTheServerDoesNotHoldIsHistoryLost) {
	if (pid_ <= 0)
		GTEST_SKIP() << "a token beyond the last event is refused this way by mosta-test-mongod only";
	try {
		mm::ChangeStream stream(*source_, "{\"_data\": \"00000000FFFFFFFF\"}", kAwaitMs, 100);
		static_cast<void>(stream.Next());
		FAIL() << "resuming from a position the server does not hold succeeded";
	} catch (const mm::ChangeStreamHistoryLost &e) {
		EXPECT_NE(std::string(e.what()).find(database_), std::string::npos) << e.what();
	}
}

} // namespace
