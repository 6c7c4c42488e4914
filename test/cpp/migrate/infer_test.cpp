// infer_test.cpp: mosta-migrate infer against mosta-test-mongod (or MOSTA_TEST_MONGO_URI) holding documents inserted
// here: majority types, dotted paths, jsonb for large or varying subdocuments and mixed types, references found by
// where the ids are, polymorphic references, child tables, not_null, the indexes carried over (sparse unique,
// partial unique, TTL) or skipped with a note; the output is deterministic and parses. Also the pure parts:
// name candidates and the statistics of a sample.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include <mongoc/mongoc.h>

#include "../support/test_mongod.hpp"
#include "commands.hpp"
#include "infer.hpp"
#include "mapping/mapping.hpp"
#include "mapping_example.hpp"

namespace mosta::migrate {
namespace {

using mapping::FieldKind;
using mapping::FieldMap;

TEST(InferNames, CandidatesFromAFieldName) {
	std::vector<std::string> buyer = NameCandidates("buyerId");
	ASSERT_FALSE(buyer.empty());
	EXPECT_EQ(buyer[0], "buyers");
	EXPECT_EQ(NameCandidates("offerIds")[0], "offers");
	std::vector<std::string> request = NameCandidates("purchaseRequestId");
	EXPECT_EQ(request[0], "purchase_requests");
	EXPECT_NE(std::find(request.begin(), request.end(), "requests"), request.end());
	EXPECT_EQ(NameCandidates("categoryId")[0], "categories");
}

TEST(InferStats, CountsTypesPresenceAndNesting) {
	LevelStats stats;
	bson_t *a = BCON_NEW("n", BCON_INT32(1), "sub", "{", "x", BCON_UTF8("a"), "}", "arr", "[", "{", "k", BCON_INT32(1),
						 "}", "]");
	bson_t *b = BCON_NEW("n", BCON_INT64(2), "sub", BCON_NULL);
	stats.Add(a);
	stats.Add(b);
	bson_destroy(a);
	bson_destroy(b);
	EXPECT_EQ(stats.containers, 2u);
	ASSERT_NE(stats.Find("n"), nullptr);
	EXPECT_EQ(stats.Find("n")->present, 2u);
	EXPECT_EQ(stats.Find("n")->types.size(), 2u);
	EXPECT_EQ(stats.Find("sub")->present, 1u); // null is not present
	ASSERT_NE(stats.Find("sub")->object, nullptr);
	EXPECT_EQ(stats.Find("sub")->object->Find("x")->present, 1u);
	ASSERT_NE(stats.Find("arr")->elements, nullptr);
	EXPECT_EQ(stats.Find("arr")->elements->containers, 1u);
}

TEST(InferWrite, TheFileFormatRoundTrips) {
	mapping::Mapping example = mapping::ParseMapping(mapping::test::kExampleMapping, "shop.json");
	std::string text = MappingJson(example);
	mapping::Mapping again = mapping::ParseMapping(text, "written");
	EXPECT_EQ(MappingJson(again), text);
	ASSERT_EQ(again.collections.size(), example.collections.size());
	const mapping::CollectionMap &payments = again.collections[1];
	EXPECT_EQ(payments.fields[1].kind, FieldKind::Polymorphic);
	EXPECT_EQ(payments.children[0].parent_column, "payment_id");
	EXPECT_EQ(payments.children[1].extra_column, "");
	EXPECT_EQ(payments.indexes[0].where, "status = 'pending'");
	EXPECT_EQ(payments.indexes[1].ttl, "90 days");
	EXPECT_EQ(payments.sums[0].group_by, std::vector<std::string>{"status"});
	EXPECT_TRUE(again.collections[0].require_objectid);
	EXPECT_EQ(again.collections[3].id_policy, mapping::IdPolicy::TimeOrdered);
	ASSERT_EQ(again.counters.size(), 1u);
	EXPECT_EQ(again.counters[0].value_column, "derivation_index");
}

class InferTest : public ::testing::Test {
  protected:
	static void
	SetUpTestSuite() {
		mongoc_init();
		std::string error;
		server_ = mosta::test::TestMongoUri(MOSTA_TEST_MONGOD_BIN, &pid_, &error);
		ASSERT_FALSE(server_.empty()) << error;
	}
	static void
	TearDownTestSuite() {
		if (pid_ > 0) {
			mosta::test::StopTestMongod(pid_);
			pid_ = -1;
		}
	}

	void
	SetUp() override {
		database_ = "mosta_infer_" + std::to_string(::getpid());
		uri_ = server_ + "/" + database_;
		client_ = mongoc_client_new(uri_.c_str());
		ASSERT_NE(client_, nullptr);
		Drop();
	}
	void
	TearDown() override {
		Drop();
		mongoc_client_destroy(client_);
	}

	void
	Drop() {
		mongoc_database_t *db = mongoc_client_get_database(client_, database_.c_str());
		bson_error_t error;
		mongoc_database_drop(db, &error);
		mongoc_database_destroy(db);
	}

	// Insert inserts document (taking it) into collection.
	void
	Insert(const char *collection, bson_t *document) {
		mongoc_collection_t *c = mongoc_client_get_collection(client_, database_.c_str(), collection);
		bson_error_t error;
		EXPECT_TRUE(mongoc_collection_insert_one(c, document, nullptr, nullptr, &error)) << error.message;
		mongoc_collection_destroy(c);
		bson_destroy(document);
	}

	// Index creates an index (the createIndexes entry index, taken) on collection.
	void
	Index(const char *collection, bson_t *index) {
		bson_t *command = BCON_NEW("createIndexes", BCON_UTF8(collection), "indexes", "[", BCON_DOCUMENT(index), "]");
		mongoc_database_t *db = mongoc_client_get_database(client_, database_.c_str());
		bson_error_t error;
		EXPECT_TRUE(mongoc_database_command_simple(db, command, nullptr, nullptr, &error)) << error.message;
		mongoc_database_destroy(db);
		bson_destroy(command);
		bson_destroy(index);
	}

	// Infer runs the command and returns its stdout (stderr in *notes); throws what it throws.
	std::string
	Infer(std::vector<std::string> args, std::string *notes = nullptr) {
		args.insert(args.begin(), {"--source", uri_});
		CommandLine line(args);
		::testing::internal::CaptureStdout();
		::testing::internal::CaptureStderr();
		int status = -1;
		try {
			status = RunInfer(line);
		} catch (...) {
			::testing::internal::GetCapturedStdout();
			::testing::internal::GetCapturedStderr();
			throw;
		}
		std::string out = ::testing::internal::GetCapturedStdout();
		std::string err = ::testing::internal::GetCapturedStderr();
		if (notes != nullptr)
			*notes = err;
		EXPECT_EQ(status, 0) << err;
		return out;
	}

	void
	LoadShop() {
		bson_oid_t user[3];
		for (bson_oid_t &oid : user)
			bson_oid_init(&oid, nullptr);
		bson_oid_t request;
		bson_oid_init(&request, nullptr);
		bson_decimal128_t amount;
		bson_decimal128_from_string("12.50", &amount);
		for (int i = 0; i < 3; ++i) {
			bson_t *doc =
				BCON_NEW("_id", BCON_OID(&user[i]), "createdAt", BCON_DATE_TIME(1700000000000 + i), "profile", "{",
						 "displayName", BCON_UTF8("n"), "locale", BCON_UTF8("fr"), "}", "points", BCON_INT64(i), "tags",
						 "[", BCON_UTF8("a"), "]", "passkeys", "[", "{", "credentialId", BCON_UTF8("c"), "}", "]");
			if (i != 1)
				BCON_APPEND(doc, "email", BCON_UTF8(i == 0 ? "a@x" : "c@x"));
			if (i == 2)
				BCON_APPEND(doc, "referredBy", BCON_OID(&user[0]));
			Insert("users", doc);
		}
		Insert("requests", BCON_NEW("_id", BCON_OID(&request), "buyerId", BCON_OID(&user[0])));
		for (int i = 0; i < 4; ++i) {
			bson_t *doc = BCON_NEW("buyerId", BCON_OID(&user[i % 3]), "status", BCON_UTF8(i < 3 ? "pending" : "paid"),
								   "amount", "{", "value", BCON_DECIMAL128(&amount), "currency", BCON_UTF8("EUR"), "}",
								   "itemIds", "[", BCON_OID(&request), "]", "meta", "{", "a", BCON_INT32(1), "b",
								   BCON_INT32(1), "c", BCON_INT32(1), "d", BCON_INT32(1), "e", BCON_INT32(1), "f",
								   BCON_INT32(1), "g", BCON_INT32(1), "h", BCON_INT32(1), "i", BCON_INT32(1), "}");
			if (i % 2)
				BCON_APPEND(doc, "mixed", BCON_UTF8("x"));
			else
				BCON_APPEND(doc, "mixed", BCON_INT32(1));
			if (i % 2)
				BCON_APPEND(doc, "purchaseRequestId", BCON_OID(&request));
			else
				BCON_APPEND(doc, "purchaseRequestId", BCON_UTF8("template:basic"));
			Insert("orders", doc);
		}
		Insert("sessions", BCON_NEW("at", BCON_DATE_TIME(1700000000000)));
		Index("users", BCON_NEW("key", "{", "email", BCON_INT32(1), "}", "name", BCON_UTF8("email_1"), "unique",
								BCON_BOOL(true), "sparse", BCON_BOOL(true)));
		Index("orders", BCON_NEW("key", "{", "buyerId", BCON_INT32(1), "}", "name", BCON_UTF8("pending_1"), "unique",
								 BCON_BOOL(true), "partialFilterExpression", "{", "status", BCON_UTF8("pending"), "}"));
		Index("orders",
			  BCON_NEW("key", "{", "buyerId", BCON_INT32(1), "}", "name", BCON_UTF8("big_1"), "unique", BCON_BOOL(true),
					   "partialFilterExpression", "{", "status", "{", "$gt", BCON_UTF8("zzz"), "}", "}"));
		Index("sessions", BCON_NEW("key", "{", "at", BCON_INT32(1), "}", "name", BCON_UTF8("at_1"),
								   "expireAfterSeconds", BCON_INT32(3600)));
	}

	static const FieldMap *
	FieldAt(const mapping::CollectionMap &c, const std::string &path) {
		for (const FieldMap &field : c.fields)
			if (field.path == path)
				return &field;
		return nullptr;
	}

	static std::string server_;
	static pid_t pid_;
	std::string database_;
	std::string uri_;
	mongoc_client_t *client_ = nullptr;
};

std::string InferTest::server_;
pid_t InferTest::pid_ = -1;

TEST_F(InferTest, AStartingMappingThatParses) {
	LoadShop();
	std::string notes;
	std::string text = Infer({"--name", "shop"}, &notes);
	mapping::Mapping m = mapping::ParseMapping(text, "inferred");
	EXPECT_EQ(m.name, "shop");
	EXPECT_EQ(m.source_database, database_);
	ASSERT_EQ(m.collections.size(), 4u);
	EXPECT_EQ(m.collections[0].collection, "orders"); // sorted by name
	EXPECT_NO_THROW(mapping::LoadOrder(m));

	const mapping::CollectionMap &users = *m.Find("users");
	EXPECT_EQ(users.id_policy, mapping::IdPolicy::ObjectId);
	const FieldMap *email = FieldAt(users, "email");
	ASSERT_NE(email, nullptr);
	EXPECT_EQ(email->type, "text");
	EXPECT_FALSE(email->not_null); // missing in one document
	const FieldMap *created = FieldAt(users, "createdAt");
	ASSERT_NE(created, nullptr);
	EXPECT_EQ(created->column, "created_at");
	EXPECT_EQ(created->type, "timestamp with time zone");
	EXPECT_TRUE(created->not_null);
	ASSERT_NE(FieldAt(users, "profile.displayName"), nullptr); // a small regular subdocument: dotted paths
	EXPECT_EQ(FieldAt(users, "profile.displayName")->column, "display_name");
	EXPECT_EQ(FieldAt(users, "points")->type, "bigint");
	EXPECT_EQ(FieldAt(users, "points")->bson_type, "long");
	EXPECT_EQ(FieldAt(users, "tags")->type, "jsonb"); // an array of scalars
	const FieldMap *referred = FieldAt(users, "referredBy");
	ASSERT_NE(referred, nullptr);
	EXPECT_EQ(referred->kind, FieldKind::Reference); // found by where its ids are
	EXPECT_EQ(referred->references, "users");
	EXPECT_EQ(referred->column, "referred_by_id");
	const FieldMap *passkeys = FieldAt(users, "passkeys");
	ASSERT_NE(passkeys, nullptr);
	ASSERT_EQ(passkeys->kind, FieldKind::ChildTable);
	EXPECT_EQ(users.children[passkeys->child].table, "users_passkeys");
	EXPECT_EQ(users.children[passkeys->child].parent_column, "user_id");
	ASSERT_EQ(users.indexes.size(), 1u);
	EXPECT_EQ(users.indexes[0].kind, mapping::IndexMap::Kind::SparseUnique);
	EXPECT_EQ(users.indexes[0].columns, std::vector<std::string>{"email"});

	const mapping::CollectionMap &orders = *m.Find("orders");
	const FieldMap *buyer = FieldAt(orders, "buyerId");
	ASSERT_NE(buyer, nullptr);
	EXPECT_EQ(buyer->kind, FieldKind::Reference);
	EXPECT_EQ(buyer->references, "users"); // no "buyers": the ids are users'
	EXPECT_TRUE(buyer->not_null);
	const FieldMap *request = FieldAt(orders, "purchaseRequestId");
	ASSERT_NE(request, nullptr);
	EXPECT_EQ(request->kind, FieldKind::Polymorphic); // ObjectIds and strings
	EXPECT_EQ(request->references, "requests");
	EXPECT_EQ(request->column, "purchase_request");
	EXPECT_EQ(FieldAt(orders, "amount.value")->type, "numeric");
	EXPECT_EQ(FieldAt(orders, "amount.value")->bson_type, "decimal");
	EXPECT_EQ(FieldAt(orders, "amount.value")->column, "amount_value");
	EXPECT_EQ(FieldAt(orders, "mixed")->type, "jsonb"); // strings and integers
	EXPECT_EQ(FieldAt(orders, "meta")->type, "jsonb");	// nine fields: too large for dotted paths
	const FieldMap *items = FieldAt(orders, "itemIds");
	ASSERT_NE(items, nullptr);
	ASSERT_EQ(items->kind, FieldKind::ChildTable);
	const mapping::ChildMap &item_table = orders.children[items->child];
	ASSERT_EQ(item_table.fields.size(), 1u);
	EXPECT_EQ(item_table.fields[0].path, "");
	EXPECT_EQ(item_table.fields[0].kind, FieldKind::Reference);
	EXPECT_EQ(item_table.fields[0].references, "requests");
	EXPECT_EQ(item_table.fields[0].column, "item_id");
	EXPECT_EQ(item_table.extra_column, "");
	ASSERT_EQ(orders.indexes.size(), 1u);
	EXPECT_EQ(orders.indexes[0].kind, mapping::IndexMap::Kind::PartialUnique);
	EXPECT_EQ(orders.indexes[0].where, "status = 'pending'");
	EXPECT_NE(notes.find("orders: index big_1 not carried over: its partialFilterExpression is not a simple"),
			  std::string::npos)
		<< notes;

	const mapping::CollectionMap &sessions = *m.Find("sessions");
	ASSERT_EQ(sessions.indexes.size(), 1u);
	EXPECT_EQ(sessions.indexes[0].kind, mapping::IndexMap::Kind::Ttl);
	EXPECT_EQ(sessions.indexes[0].ttl, "1 hours");

	EXPECT_EQ(Infer({"--name", "shop"}), text) << "the same data gives the same mapping";
}

TEST_F(InferTest, OptionsAndErrors) {
	LoadShop();
	mapping::Mapping m = mapping::ParseMapping(Infer({"--collections", "users,requests", "--sample", "1"}), "inferred");
	EXPECT_EQ(m.name, database_);
	ASSERT_EQ(m.collections.size(), 2u);
	EXPECT_EQ(m.collections[0].collection, "users"); // in the order given
	// one document sampled: its email is there, so it looks required
	EXPECT_TRUE(FieldAt(m.collections[0], "email")->not_null);
	// requests.buyerId's ids are in users, a collection of this mapping
	EXPECT_EQ(FieldAt(m.collections[1], "buyerId")->references, "users");
	EXPECT_THROW(Infer({"--collections", "nope"}), UsageError);
	EXPECT_THROW(Infer({"--sample", "0"}), UsageError);
}

TEST_F(InferTest, AReferenceToACollectionLeftOutIsAnObjectIdColumn) {
	LoadShop();
	mapping::Mapping m = mapping::ParseMapping(Infer({"--collections", "requests"}), "inferred");
	const FieldMap *buyer = FieldAt(m.collections[0], "buyerId");
	ASSERT_NE(buyer, nullptr);
	EXPECT_EQ(buyer->kind, FieldKind::Column);
	EXPECT_EQ(buyer->type, "text");
	EXPECT_EQ(buyer->bson_type, "objectId");
}

} // namespace
} // namespace mosta::migrate
