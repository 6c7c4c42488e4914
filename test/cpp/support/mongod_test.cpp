// mongod_test.cpp
//     Drives mosta-test-mongod through libmongoc, the driver the sidecar's Mongo sink uses: inserts
//     and finds by ObjectId and embedded-document _id, upserts ($set and replacement), deletes, bulk
//     writes (OP_MSG document sequences), counts, aggregate, cursors with getMore, indexes,
//     listCollections, drop, and the error document of an unknown command. Each test starts from an
//     empty database of its own. With MOSTA_TEST_MONGO_URI set, the same tests run against that
//     server (a real mongod) instead of starting mosta-test-mongod.
#include <gtest/gtest.h>

#include <mongoc/mongoc.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "test_mongod.hpp"

namespace {

struct BsonDeleter {
	void
	operator()(bson_t *doc) const noexcept {
		bson_destroy(doc);
	}
};
struct ClientDeleter {
	void
	operator()(mongoc_client_t *client) const noexcept {
		mongoc_client_destroy(client);
	}
};
struct CollectionDeleter {
	void
	operator()(mongoc_collection_t *collection) const noexcept {
		mongoc_collection_destroy(collection);
	}
};
struct CursorDeleter {
	void
	operator()(mongoc_cursor_t *cursor) const noexcept {
		mongoc_cursor_destroy(cursor);
	}
};
struct BulkDeleter {
	void
	operator()(mongoc_bulk_operation_t *bulk) const noexcept {
		mongoc_bulk_operation_destroy(bulk);
	}
};
using BsonPtr = std::unique_ptr<bson_t, BsonDeleter>;
using ClientPtr = std::unique_ptr<mongoc_client_t, ClientDeleter>;
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorDeleter>;
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, BulkDeleter>;

// {"json"} → an owned bson_t (canonical extended JSON: {"$oid": ...}, {"$numberLong": ...}).
BsonPtr
Json(const std::string &json) {
	bson_error_t error;
	bson_t *doc =
		bson_new_from_json(reinterpret_cast<const uint8_t *>(json.data()), static_cast<ssize_t>(json.size()), &error);
	if (!doc)
		throw std::runtime_error("bad JSON in test: " + json + ": " + error.message);
	return BsonPtr(doc);
}

std::string
ToJson(const bson_t *doc) {
	char *json = bson_as_relaxed_extended_json(doc, nullptr);
	std::string result(json);
	bson_free(json);
	return result;
}

// The test server (or MOSTA_TEST_MONGO_URI) and mongoc_init/cleanup, for the whole binary.
class MongoEnvironment : public ::testing::Environment {
  public:
	void
	SetUp() override {
		mongoc_init();
		if (const char *uri = std::getenv("MOSTA_TEST_MONGO_URI"); uri && *uri) {
			uri_ = uri;
			return;
		}
		std::string error;
		std::string server = mosta::test::StartTestMongod(MOSTA_TEST_MONGOD_BIN, &pid_, &error);
		ASSERT_FALSE(server.empty()) << error;
		uri_ = server + "/?serverSelectionTimeoutMS=5000";
	}

	void
	TearDown() override {
		if (pid_ > 0) {
			int status = mosta::test::StopTestMongod(pid_);
			EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "mosta-test-mongod exit status " << status;
		}
		mongoc_cleanup();
	}

	static std::string uri_;

  private:
	pid_t pid_ = -1;
};

std::string MongoEnvironment::uri_;

class MongodTest : public ::testing::Test {
  protected:
	void
	SetUp() override {
		client_.reset(mongoc_client_new(MongoEnvironment::uri_.c_str()));
		ASSERT_TRUE(client_);
		db_ = "mosta_mongod_test_" + std::to_string(getpid());
		DropDatabase();
		collection_.reset(mongoc_client_get_collection(client_.get(), db_.c_str(), "items"));
	}
	void
	TearDown() override {
		collection_.reset();
		DropDatabase();
	}
	void
	DropDatabase() {
		mongoc_database_t *db = mongoc_client_get_database(client_.get(), db_.c_str());
		bson_error_t error;
		EXPECT_TRUE(mongoc_database_drop(db, &error)) << error.message;
		mongoc_database_destroy(db);
	}

	void
	Insert(const std::string &json) {
		bson_error_t error;
		ASSERT_TRUE(mongoc_collection_insert_one(collection_.get(), Json(json).get(), nullptr, nullptr, &error))
			<< error.message;
	}
	// The documents find returns, as relaxed JSON.
	std::vector<std::string>
	Find(const std::string &filter, const std::string &options = "{}") {
		CursorPtr cursor(
			mongoc_collection_find_with_opts(collection_.get(), Json(filter).get(), Json(options).get(), nullptr));
		std::vector<std::string> docs;
		const bson_t *doc;
		while (mongoc_cursor_next(cursor.get(), &doc))
			docs.push_back(ToJson(doc));
		bson_error_t error;
		EXPECT_FALSE(mongoc_cursor_error(cursor.get(), &error)) << error.message;
		return docs;
	}
	int64_t
	Count(const std::string &filter) {
		bson_error_t error;
		int64_t n =
			mongoc_collection_count_documents(collection_.get(), Json(filter).get(), nullptr, nullptr, nullptr, &error);
		EXPECT_GE(n, 0) << error.message;
		return n;
	}

	ClientPtr client_;
	CollectionPtr collection_;
	std::string db_;
};

TEST_F(MongodTest, InsertAndFindByObjectIdAndEmbeddedId) {
	Insert(R"({"_id": {"$oid": "64b7f0c2a1b2c3d4e5f60718"}, "name": "oid"})");
	Insert(R"({"_id": {"tenant": 7, "id": {"$numberLong": "42"}}, "name": "embedded"})");
	Insert(R"({"name": "generated"})");
	EXPECT_EQ(Find(R"({"_id": {"$oid": "64b7f0c2a1b2c3d4e5f60718"}})"),
			  std::vector<std::string>{R"({ "_id" : { "$oid" : "64b7f0c2a1b2c3d4e5f60718" }, "name" : "oid" })"});
	// Numbers compare across types, as on a real server: {id: 42} (int32) finds {id: NumberLong(42)}.
	EXPECT_EQ(Find(R"({"_id": {"tenant": 7, "id": 42}})").size(), 1u);
	EXPECT_EQ(Find(R"({"_id.tenant": 7})").size(), 1u);
	EXPECT_EQ(Find(R"({"name": "generated"})").size(), 1u);
	EXPECT_EQ(Count("{}"), 3);
}

TEST_F(MongodTest, DuplicateIdIsWriteError11000) {
	Insert(R"({"_id": 1})");
	bson_error_t error;
	BsonPtr reply(bson_new());
	EXPECT_FALSE(
		mongoc_collection_insert_one(collection_.get(), Json(R"({"_id": 1.0})").get(), nullptr, reply.get(), &error));
	EXPECT_EQ(error.code, 11000u) << error.message;
	EXPECT_NE(ToJson(reply.get()).find("writeErrors"), std::string::npos) << ToJson(reply.get());
}

TEST_F(MongodTest, UpsertWithSetAndReplacement) {
	bson_error_t error;
	BsonPtr upsert = Json(R"({"upsert": true})");
	BsonPtr reply(bson_new());
	ASSERT_TRUE(mongoc_collection_update_one(collection_.get(), Json(R"({"_id": {"k": 1, "s": "a"}})").get(),
											 Json(R"({"$set": {"v": 1, "nested.x": "y"}})").get(), upsert.get(),
											 reply.get(), &error))
		<< error.message;
	EXPECT_NE(ToJson(reply.get()).find(R"("upsertedCount" : 1)"), std::string::npos) << ToJson(reply.get());
	bson_reinit(reply.get());
	ASSERT_TRUE(mongoc_collection_update_one(collection_.get(), Json(R"({"_id": {"k": 1, "s": "a"}})").get(),
											 Json(R"({"$set": {"v": 2}, "$inc": {"n": 5}})").get(), upsert.get(),
											 reply.get(), &error))
		<< error.message;
	EXPECT_NE(ToJson(reply.get()).find(R"("modifiedCount" : 1)"), std::string::npos) << ToJson(reply.get());
	EXPECT_EQ(
		Find(R"({"_id": {"k": 1, "s": "a"}})"),
		std::vector<std::string>{R"({ "_id" : { "k" : 1, "s" : "a" }, "v" : 2, "nested" : { "x" : "y" }, "n" : 5 })"});

	// replaceOne with upsert: inserts under the filter's _id, then replaces every field but _id.
	BsonPtr id_filter = Json(R"({"_id": {"$oid": "64b7f0c2a1b2c3d4e5f60719"}})");
	ASSERT_TRUE(mongoc_collection_replace_one(collection_.get(), id_filter.get(), Json(R"({"a": 1, "b": 2})").get(),
											  upsert.get(), nullptr, &error))
		<< error.message;
	ASSERT_TRUE(mongoc_collection_replace_one(collection_.get(), id_filter.get(), Json(R"({"c": 3})").get(),
											  upsert.get(), nullptr, &error))
		<< error.message;
	EXPECT_EQ(Find(R"({"_id": {"$oid": "64b7f0c2a1b2c3d4e5f60719"}})"),
			  std::vector<std::string>{R"({ "_id" : { "$oid" : "64b7f0c2a1b2c3d4e5f60719" }, "c" : 3 })"});
	// Changing _id in a replacement is refused (ImmutableField, 66).
	EXPECT_FALSE(mongoc_collection_replace_one(collection_.get(), id_filter.get(), Json(R"({"_id": 5})").get(), nullptr,
											   nullptr, &error));
	EXPECT_EQ(error.code, 66u) << error.message;
	// A checkpoint-style upsert keyed by a string.
	auto checkpoints = CollectionPtr(mongoc_client_get_collection(client_.get(), db_.c_str(), "_mosta_checkpoints"));
	for (const char *lsn : {"0/16B3748", "0/16B3790"})
		ASSERT_TRUE(mongoc_collection_replace_one(checkpoints.get(), Json(R"({"_id": "target-a"})").get(),
												  Json(std::string(R"({"lsn": ")") + lsn + "\"}").get(), upsert.get(),
												  nullptr, &error))
			<< error.message;
	CursorPtr cursor(
		mongoc_collection_find_with_opts(checkpoints.get(), Json(R"({"_id": "target-a"})").get(), nullptr, nullptr));
	const bson_t *doc;
	ASSERT_TRUE(mongoc_cursor_next(cursor.get(), &doc));
	EXPECT_EQ(ToJson(doc), R"({ "_id" : "target-a", "lsn" : "0/16B3790" })");
}

TEST_F(MongodTest, DeleteOneAndMany) {
	for (int i = 0; i < 10; i++)
		Insert("{\"_id\": " + std::to_string(i) + ", \"even\": " + (i % 2 ? "false" : "true") + "}");
	bson_error_t error;
	BsonPtr reply(bson_new());
	ASSERT_TRUE(
		mongoc_collection_delete_one(collection_.get(), Json(R"({"_id": 3})").get(), nullptr, reply.get(), &error));
	EXPECT_NE(ToJson(reply.get()).find(R"("deletedCount" : 1)"), std::string::npos);
	bson_reinit(reply.get());
	ASSERT_TRUE(mongoc_collection_delete_many(collection_.get(), Json(R"({"even": true})").get(), nullptr, reply.get(),
											  &error));
	EXPECT_NE(ToJson(reply.get()).find(R"("deletedCount" : 5)"), std::string::npos) << ToJson(reply.get());
	EXPECT_EQ(Count("{}"), 4);
	EXPECT_EQ(
		Find("{}", R"({"sort": {"_id": 1}, "projection": {"_id": 1}})"),
		(std::vector<std::string>{R"({ "_id" : 1 })", R"({ "_id" : 5 })", R"({ "_id" : 7 })", R"({ "_id" : 9 })"}));
}

TEST_F(MongodTest, BulkWriteSendsDocumentSequences) {
	bson_error_t error;
	BulkPtr bulk(
		mongoc_collection_create_bulk_operation_with_opts(collection_.get(), Json(R"({"ordered": true})").get()));
	constexpr int kRows = 2500;
	for (int i = 0; i < kRows; i++)
		mongoc_bulk_operation_insert(bulk.get(), Json("{\"_id\": " + std::to_string(i) + ", \"v\": 0}").get());
	for (int i = 0; i < 100; i++)
		ASSERT_TRUE(mongoc_bulk_operation_update_one_with_opts(
			bulk.get(), Json("{\"_id\": " + std::to_string(i) + "}").get(), Json(R"({"$set": {"v": 1}})").get(),
			Json(R"({"upsert": true})").get(), &error));
	ASSERT_TRUE(mongoc_bulk_operation_replace_one_with_opts(bulk.get(), Json(R"({"_id": -1})").get(),
															Json(R"({"v": 2})").get(),
															Json(R"({"upsert": true})").get(), &error));
	ASSERT_TRUE(mongoc_bulk_operation_remove_many_with_opts(bulk.get(), Json(R"({"_id": {"$gte": 2000}})").get(),
															nullptr, &error));
	ASSERT_TRUE(mongoc_bulk_operation_remove_one_with_opts(bulk.get(), Json(R"({"_id": 0})").get(), nullptr, &error));
	BsonPtr reply(bson_new());
	ASSERT_NE(mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error), 0u) << error.message;
	std::string json = ToJson(reply.get());
	EXPECT_NE(json.find(R"("nInserted" : 2500)"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("nMatched" : 100)"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("nModified" : 100)"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("nUpserted" : 1)"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("nRemoved" : 501)"), std::string::npos) << json;
	EXPECT_EQ(Count("{}"), 2000);
	EXPECT_EQ(Count(R"({"v": 1})"), 99);

	// An ordered bulk stops at the first duplicate and reports it.
	BulkPtr duplicate(mongoc_collection_create_bulk_operation_with_opts(collection_.get(), nullptr));
	mongoc_bulk_operation_insert(duplicate.get(), Json(R"({"_id": 5000})").get());
	mongoc_bulk_operation_insert(duplicate.get(), Json(R"({"_id": 5})").get());
	mongoc_bulk_operation_insert(duplicate.get(), Json(R"({"_id": 5001})").get());
	bson_reinit(reply.get());
	EXPECT_EQ(mongoc_bulk_operation_execute(duplicate.get(), reply.get(), &error), 0u);
	EXPECT_EQ(error.code, 11000u) << error.message;
	EXPECT_EQ(Count(R"({"_id": {"$in": [5000, 5001]}})"), 1);
}

TEST_F(MongodTest, CountAndAggregate) {
	for (int i = 0; i < 30; i++)
		Insert("{\"_id\": " + std::to_string(i) + ", \"g\": " + std::to_string(i % 3) + "}");
	EXPECT_EQ(Count(R"({"g": 1})"), 10);
	EXPECT_EQ(Count(R"({"g": {"$in": [0, 2]}, "_id": {"$lt": 15}})"), 10);
	bson_error_t error;
	EXPECT_EQ(mongoc_collection_estimated_document_count(collection_.get(), nullptr, nullptr, nullptr, &error), 30)
		<< error.message;
	CursorPtr cursor(mongoc_collection_aggregate(collection_.get(), MONGOC_QUERY_NONE,
												 Json(R"({"pipeline": [{"$match": {"g": 2}}, {"$count": "n"}]})").get(),
												 nullptr, nullptr));
	const bson_t *doc;
	ASSERT_TRUE(mongoc_cursor_next(cursor.get(), &doc));
	EXPECT_EQ(ToJson(doc), R"({ "n" : 10 })");
	cursor.reset(mongoc_collection_aggregate(
		collection_.get(), MONGOC_QUERY_NONE,
		Json(R"({"pipeline": [{"$match": {"_id": {"$gte": 3}}}, {"$group": {"_id": null, "n": {"$sum": 1}}}]})").get(),
		nullptr, nullptr));
	ASSERT_TRUE(mongoc_cursor_next(cursor.get(), &doc));
	EXPECT_EQ(ToJson(doc), R"({ "_id" : null, "n" : 27 })");
}

TEST_F(MongodTest, FindSortsSkipsLimitsAndPagesWithGetMore) {
	for (int i = 0; i < 250; i++)
		Insert("{\"_id\": " + std::to_string(i) + ", \"k\": " + std::to_string(i % 10) + "}");
	std::vector<std::string> docs = Find("{}", R"({"sort": {"k": -1, "_id": 1}, "batchSize": 7})");
	ASSERT_EQ(docs.size(), 250u);
	EXPECT_EQ(docs.front(), R"({ "_id" : 9, "k" : 9 })");
	EXPECT_EQ(docs.back(), R"({ "_id" : 240, "k" : 0 })");
	docs = Find(R"({"k": {"$gt": 7}})", R"({"sort": {"_id": 1}, "skip": 2, "limit": 3})");
	EXPECT_EQ(docs, (std::vector<std::string>{R"({ "_id" : 18, "k" : 8 })", R"({ "_id" : 19, "k" : 9 })",
											  R"({ "_id" : 28, "k" : 8 })"}));
	EXPECT_EQ(Find(R"({"k": {"$exists": false}})").size(), 0u);
}

TEST_F(MongodTest, IndexesCollectionsAndDrop) {
	bson_error_t error;
	BsonPtr create =
		Json(R"({"createIndexes": "items", "indexes": [{"key": {"email": 1}, "name": "email_1", "unique": true}]})");
	ASSERT_TRUE(mongoc_collection_write_command_with_opts(collection_.get(), create.get(), nullptr, nullptr, &error))
		<< error.message;
	Insert(R"({"_id": 1, "email": "a@example.com"})");
	EXPECT_FALSE(mongoc_collection_insert_one(collection_.get(), Json(R"({"_id": 2, "email": "a@example.com"})").get(),
											  nullptr, nullptr, &error));
	EXPECT_EQ(error.code, 11000u) << error.message;
	CursorPtr indexes(mongoc_collection_find_indexes_with_opts(collection_.get(), nullptr));
	const bson_t *doc;
	std::vector<std::string> names;
	while (mongoc_cursor_next(indexes.get(), &doc)) {
		bson_iter_t it;
		if (bson_iter_init_find(&it, doc, "name"))
			names.emplace_back(bson_iter_utf8(&it, nullptr));
	}
	EXPECT_EQ(names, (std::vector<std::string>{"_id_", "email_1"}));

	mongoc_database_t *db = mongoc_client_get_database(client_.get(), db_.c_str());
	Insert(R"({"_id": 3, "email": "b@example.com"})");
	CollectionPtr other(mongoc_client_get_collection(client_.get(), db_.c_str(), "other"));
	ASSERT_TRUE(mongoc_collection_insert_one(other.get(), Json("{}").get(), nullptr, nullptr, &error));
	char **collections = mongoc_database_get_collection_names_with_opts(db, nullptr, &error);
	ASSERT_TRUE(collections) << error.message;
	std::vector<std::string> listed;
	for (char **name = collections; *name; name++)
		listed.emplace_back(*name);
	bson_strfreev(collections);
	std::sort(listed.begin(), listed.end());
	EXPECT_EQ(listed, (std::vector<std::string>{"items", "other"}));
	EXPECT_TRUE(mongoc_collection_drop(other.get(), &error)) << error.message;
	EXPECT_TRUE(mongoc_database_has_collection(db, "items", &error));
	EXPECT_FALSE(mongoc_database_has_collection(db, "other", &error));
	mongoc_database_destroy(db);
}

TEST_F(MongodTest, UnknownCommandGetsAnErrorDocument) {
	bson_error_t error;
	BsonPtr reply(bson_new());
	EXPECT_FALSE(mongoc_client_command_simple(client_.get(), "admin", Json(R"({"noSuchCommandForMosta": 1})").get(),
											  nullptr, reply.get(), &error));
	EXPECT_EQ(error.code, 59u) << error.message;
	bson_iter_t it;
	ASSERT_TRUE(bson_iter_init_find(&it, reply.get(), "codeName")) << ToJson(reply.get());
	EXPECT_STREQ(bson_iter_utf8(&it, nullptr), "CommandNotFound");
	ASSERT_TRUE(bson_iter_init_find(&it, reply.get(), "ok"));
	EXPECT_EQ(bson_iter_as_double(&it), 0.0);
	// ping and buildInfo work.
	bson_reinit(reply.get());
	EXPECT_TRUE(mongoc_client_command_simple(client_.get(), "admin", Json(R"({"ping": 1})").get(), nullptr, reply.get(),
											 &error))
		<< error.message;
}

// Unique indexes: sparse ones skip documents without the field, partial ones documents outside the filter.
TEST_F(MongodTest, SparseAndPartialUniqueIndexes) {
	BsonPtr reply(bson_new());
	bson_error_t error;
	ASSERT_TRUE(mongoc_client_write_command_with_opts(client_.get(), db_.c_str(),
													  Json(R"({"createIndexes": "items", "indexes": [
			{"key": {"email": 1}, "name": "email_1", "unique": true, "sparse": true},
			{"key": {"buyer": 1, "session": 1}, "name": "pending_1", "unique": true,
			 "partialFilterExpression": {"status": "pending"}}]})")
														  .get(),
													  nullptr, reply.get(), &error))
		<< error.message;
	Insert(R"({"_id": 1, "buyer": 1, "session": "s", "status": "pending"})");
	Insert(R"({"_id": 2, "buyer": 1, "session": "s", "status": "done"})"); // outside the partial filter
	Insert(R"({"_id": 3, "buyer": 1, "session": "s", "status": "done"})");
	Insert(R"({"_id": 4, "email": "a@x"})"); // 1-3 have no email: sparse
	EXPECT_FALSE(mongoc_collection_insert_one(
		collection_.get(), Json(R"({"_id": 5, "buyer": 1, "session": "s", "status": "pending"})").get(), nullptr,
		nullptr, &error));
	EXPECT_EQ(error.code, 11000u) << error.message;
	EXPECT_FALSE(mongoc_collection_insert_one(collection_.get(), Json(R"({"_id": 6, "email": "a@x"})").get(), nullptr,
											  nullptr, &error));
	EXPECT_EQ(error.code, 11000u) << error.message;
	// an update that moves a document out of the partial filter frees its key
	ASSERT_TRUE(mongoc_collection_update_one(collection_.get(), Json(R"({"_id": 1})").get(),
											 Json(R"({"$set": {"status": "done"}})").get(), nullptr, nullptr, &error))
		<< error.message;
	Insert(R"({"_id": 5, "buyer": 1, "session": "s", "status": "pending"})");
	EXPECT_EQ(Count("{}"), 5);
}

// A find over a range of _ids sorted by _id (the backfill's query) pages through getMore in _id order.
TEST_F(MongodTest, FindPagesAnIdRangeInIdOrder) {
	for (int i = 20; i >= 1; i--)
		Insert(R"({"_id": )" + std::to_string(i) + "}");
	Insert(R"({"_id": "text"})"); // another type: outside a numeric range
	std::vector<std::string> docs = Find(R"({"_id": {"$gt": 5}})", R"({"sort": {"_id": 1}, "batchSize": 4})");
	ASSERT_EQ(docs.size(), 15u);
	EXPECT_EQ(docs.front(), R"({ "_id" : 6 })");
	EXPECT_EQ(docs.back(), R"({ "_id" : 20 })");
	docs = Find(R"({"_id": {"$lte": 10}})", R"({"sort": {"_id": -1}, "limit": 3, "batchSize": 2})");
	EXPECT_EQ(docs, (std::vector<std::string>{R"({ "_id" : 10 })", R"({ "_id" : 9 })", R"({ "_id" : 8 })"}));
	docs = Find(R"({"_id": {"$gte": 5, "$lt": 8}})", R"({"sort": {"_id": 1}, "batchSize": 2})");
	EXPECT_EQ(docs, (std::vector<std::string>{R"({ "_id" : 5 })", R"({ "_id" : 6 })", R"({ "_id" : 7 })"}));
	docs = Find(R"({"_id": {"$gt": 17, "$gte": 3}})", R"({"sort": {"_id": -1}})");
	EXPECT_EQ(docs, (std::vector<std::string>{R"({ "_id" : 20 })", R"({ "_id" : 19 })", R"({ "_id" : 18 })"}));
	EXPECT_EQ(Find(R"({"_id": 3})", R"({"sort": {"_id": 1}})"), (std::vector<std::string>{R"({ "_id" : 3 })"}));
	EXPECT_EQ(Find(R"({"_id": {"$gt": "a"}})", R"({"sort": {"_id": 1}})"),
			  (std::vector<std::string>{R"({ "_id" : "text" })"}));
	// $in on _id: lookups, in _id order, each document once
	EXPECT_EQ(Find(R"({"_id": {"$in": [3, 1, 99, 1, "text"]}})"),
			  (std::vector<std::string>{R"({ "_id" : 1 })", R"({ "_id" : 3 })", R"({ "_id" : "text" })"}));
	EXPECT_EQ(Count(R"({"_id": {"$in": [3, 1, 99]}})"), 2);
	docs = Find("{}", R"({"sort": {"_id": 1}, "projection": {"_id": 1}, "batchSize": 7})");
	ASSERT_EQ(docs.size(), 21u);
	EXPECT_EQ(docs.back(), R"({ "_id" : "text" })"); // numbers sort before strings
}

// $sample picks distinct random documents; $sum over Decimal128 is refused by the test server (not a silent 0).
TEST_F(MongodTest, AggregateSamplesAndRefusesDecimalSums) {
	for (int i = 0; i < 10; i++)
		Insert(R"({"_id": )" + std::to_string(i) + R"(, "amount": {"$numberDecimal": "1.5"}})");
	auto aggregate = [this](const std::string &pipeline, bson_error_t *error) {
		CursorPtr cursor(
			mongoc_collection_aggregate(collection_.get(), MONGOC_QUERY_NONE, Json(pipeline).get(), nullptr, nullptr));
		std::vector<std::string> docs;
		const bson_t *doc;
		while (mongoc_cursor_next(cursor.get(), &doc))
			docs.push_back(ToJson(doc));
		if (!mongoc_cursor_error(cursor.get(), error))
			error->code = 0;
		return docs;
	};
	bson_error_t error;
	std::vector<std::string> sample =
		aggregate(R"({"pipeline": [{"$sample": {"size": 4}}, {"$project": {"_id": 1}}]})", &error);
	EXPECT_EQ(error.code, 0u) << error.message;
	EXPECT_EQ(sample.size(), 4u);
	std::sort(sample.begin(), sample.end());
	EXPECT_EQ(std::unique(sample.begin(), sample.end()), sample.end());
	EXPECT_EQ(aggregate(R"({"pipeline": [{"$sample": {"size": 40}}]})", &error).size(), 10u);
	aggregate(R"({"pipeline": [{"$group": {"_id": null, "total": {"$sum": "$amount"}}}]})", &error);
	if (!std::getenv("MOSTA_TEST_MONGO_URI")) { // a real server adds them
		EXPECT_EQ(error.code, 51083u) << error.message;
	}
}

// Change streams through libmongoc (what mosta-migrate follow uses): watch, next, the resume token, resumeAfter.
TEST_F(MongodTest, ChangeStreamsThroughLibmongoc) {
	auto watch = [this](const std::string &options) {
		return mongoc_collection_watch(collection_.get(), Json(R"({"pipeline": []})").get(), Json(options).get());
	};
	mongoc_change_stream_t *stream = watch(R"({"maxAwaitTimeMS": 200, "fullDocument": "updateLookup"})");
	ASSERT_NE(stream, nullptr);
	bson_error_t error;
	const bson_t *error_doc = nullptr;
	ASSERT_FALSE(mongoc_change_stream_error_document(stream, &error, &error_doc)) << error.message;
	Insert(R"({"_id": 1, "v": 1})");
	ASSERT_TRUE(mongoc_collection_update_one(collection_.get(), Json(R"({"_id": 1})").get(),
											 Json(R"({"$set": {"v": 2}})").get(), nullptr, nullptr, &error))
		<< error.message;
	std::vector<std::string> events;
	const bson_t *event = nullptr;
	for (int tries = 0; events.size() < 2 && tries < 50; tries++)
		if (mongoc_change_stream_next(stream, &event)) {
			bson_iter_t it;
			ASSERT_TRUE(bson_iter_init_find(&it, event, "operationType"));
			std::string type = bson_iter_utf8(&it, nullptr);
			ASSERT_TRUE(bson_iter_init_find(&it, event, "fullDocument") && BSON_ITER_HOLDS_DOCUMENT(&it))
				<< ToJson(event);
			uint32_t length = 0;
			const uint8_t *data = nullptr;
			bson_iter_document(&it, &length, &data);
			bson_t full;
			ASSERT_TRUE(bson_init_static(&full, data, length));
			events.push_back(type + " " + ToJson(&full));
		}
	// the insert carries the document inserted, the update (updateLookup) the document as it is now
	EXPECT_EQ(events,
			  (std::vector<std::string>{R"(insert { "_id" : 1, "v" : 1 })", R"(update { "_id" : 1, "v" : 2 })"}));
	const bson_t *token = mongoc_change_stream_get_resume_token(stream);
	ASSERT_NE(token, nullptr);
	BsonPtr saved(bson_copy(token));
	mongoc_change_stream_destroy(stream);

	Insert(R"({"_id": 2})");
	Insert(R"({"_id": 3})");
	bson_t options = BSON_INITIALIZER;
	BSON_APPEND_DOCUMENT(&options, "resumeAfter", saved.get());
	BSON_APPEND_INT32(&options, "maxAwaitTimeMS", 200);
	stream = mongoc_collection_watch(collection_.get(), Json(R"({"pipeline": []})").get(), &options);
	bson_destroy(&options);
	std::vector<int> ids;
	for (int tries = 0; ids.size() < 2 && tries < 50; tries++)
		if (mongoc_change_stream_next(stream, &event)) {
			bson_iter_t it;
			ASSERT_TRUE(bson_iter_init_find(&it, event, "documentKey") && BSON_ITER_HOLDS_DOCUMENT(&it));
			bson_iter_t id;
			ASSERT_TRUE(bson_iter_recurse(&it, &id) && bson_iter_find(&id, "_id"));
			ids.push_back(bson_iter_int32(&id));
		}
	EXPECT_FALSE(mongoc_change_stream_error_document(stream, &error, nullptr)) << error.message;
	EXPECT_EQ(ids, (std::vector<int>{2, 3}));
	// no event: next returns false without an error, and the token still moves to the latest position
	EXPECT_FALSE(mongoc_change_stream_next(stream, &event));
	EXPECT_FALSE(mongoc_change_stream_error_document(stream, &error, nullptr)) << error.message;
	mongoc_change_stream_destroy(stream);

	// a database stream, and a token whose history never existed here: 286, not resumable
	mongoc_database_t *db = mongoc_client_get_database(client_.get(), db_.c_str());
	stream = mongoc_database_watch(db, Json(R"({"pipeline": []})").get(), Json(R"({"maxAwaitTimeMS": 200})").get());
	Insert(R"({"_id": 4})");
	bool seen = false;
	for (int tries = 0; !seen && tries < 50; tries++)
		seen = mongoc_change_stream_next(stream, &event);
	EXPECT_TRUE(seen);
	mongoc_change_stream_destroy(stream);
	stream =
		mongoc_database_watch(db, Json(R"({"pipeline": []})").get(),
							  Json(R"({"resumeAfter": {"_data": "7FFFFFFFFFFFFFFF"}, "maxAwaitTimeMS": 200})").get());
	EXPECT_FALSE(mongoc_change_stream_next(stream, &event));
	EXPECT_TRUE(mongoc_change_stream_error_document(stream, &error, nullptr));
	EXPECT_EQ(error.code, 286u) << error.message;
	mongoc_change_stream_destroy(stream);
	mongoc_database_destroy(db);
}

// A URI naming the replica set (?replicaSet=rs0) discovers the one member hello reports and works too.
TEST_F(MongodTest, ReplicaSetUriFindsTheMember) {
	if (std::getenv("MOSTA_TEST_MONGO_URI"))
		GTEST_SKIP() << "the replica set name of MOSTA_TEST_MONGO_URI is not known";
	std::string uri = MongoEnvironment::uri_;
	uri += (uri.find('?') == std::string::npos ? "?" : "&") + std::string("replicaSet=rs0");
	ClientPtr client(mongoc_client_new(uri.c_str()));
	ASSERT_TRUE(client);
	bson_error_t error;
	BsonPtr reply(bson_new());
	EXPECT_TRUE(
		mongoc_client_command_simple(client.get(), "admin", Json(R"({"ping": 1})").get(), nullptr, reply.get(), &error))
		<< error.message;
}

} // namespace

int
main(int argc, char **argv) {
	::testing::InitGoogleTest(&argc, argv);
	::testing::AddGlobalTestEnvironment(new MongoEnvironment);
	return RUN_ALL_TESTS();
}

// --version prints the release and the protocol versions, and exits 0 (issue 10, item 14).
TEST(MongodVersion, PrintsTheVersions) {
	std::unique_ptr<FILE, int (*)(FILE *)> out(popen(MOSTA_TEST_MONGOD_BIN " --version", "r"), pclose);
	ASSERT_NE(out, nullptr);
	std::string text;
	char buffer[256];
	while (std::fgets(buffer, sizeof buffer, out.get()) != nullptr)
		text += buffer;
	EXPECT_EQ(pclose(out.release()), 0);
	EXPECT_EQ(text.rfind("mosta-test-mongod " MOSTA_VERSION "\n", 0), 0U) << text;
	EXPECT_NE(text.find("format-version 1, 2"), std::string::npos) << text;
	EXPECT_NE(text.find("catalog mostajs " MOSTA_VERSION), std::string::npos) << text;
}
