// follow_reduce_test.cpp
//     The catch-up's pure parts: change events decoded from the documents a server sends (DecodeChangeEvent), reduced
//     to the last state per (collection, _id) and ordered for the foreign keys (ReducePlan: upserts parents first,
//     deletes children first), the structural events that stop it (StopsFollow), the _id candidates a held-back
//     document is re-read with (LegacyIdCandidates) and the resume token's text form.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "change_stream.hpp"
#include "follow_apply.hpp"
#include "follow_reduce.hpp"
#include "mapping/mapping.hpp"
#include "sink/mongo_bson.hpp"

namespace mm = mosta::migrate;
namespace mp = mosta::mapping;

namespace {

constexpr const char *kA = "507f1f77bcf86cd799439011";
constexpr const char *kB = "507f1f77bcf86cd799439012";
constexpr const char *kC = "507f1f77bcf86cd799439013";

mosta::sidecar::BsonHandle
Json(const std::string &json) {
	bson_error_t error;
	bson_t *doc =
		bson_new_from_json(reinterpret_cast<const uint8_t *>(json.data()), static_cast<ssize_t>(json.size()), &error);
	if (doc == nullptr)
		throw std::runtime_error("bad JSON in test: " + json + ": " + error.message);
	return mosta::sidecar::BsonHandle(doc);
}

int g_sequence = 0;

// Event builds the change event document a server sends: op on coll for _id (extended JSON of the value), with
// full ("" : no fullDocument field, "null": a null one).
mm::ChangeEvent
Event(const std::string &op, const std::string &coll, const std::string &id, const std::string &full = "",
	  long long wall_ms = 0) {
	std::string json = "{\"_id\": {\"_data\": \"" + std::to_string(++g_sequence) + "\"}, \"operationType\": \"" + op +
					   "\", \"ns\": {\"db\": \"shop\", \"coll\": \"" + coll + "\"}";
	if (!id.empty())
		json += ", \"documentKey\": {\"_id\": " + id + "}";
	if (!full.empty())
		json += ", \"fullDocument\": " + full;
	if (wall_ms != 0)
		json += ", \"wallTime\": {\"$date\": {\"$numberLong\": \"" + std::to_string(wall_ms) + "\"}}";
	json += "}";
	return mm::DecodeChangeEvent(Json(json).get());
}

std::string
Oid(const char *hex) {
	return std::string("{\"$oid\": \"") + hex + "\"}";
}

std::string
Doc(const char *hex, const std::string &fields = "") {
	return "{\"_id\": " + Oid(hex) + (fields.empty() ? "" : ", " + fields) + "}";
}

class FollowReduceTest : public ::testing::Test {
  protected:
	void
	SetUp() override {
		mapping_.name = "shop";
		mp::CollectionMap users;
		users.collection = users.table = "users";
		mp::CollectionMap payments;
		payments.collection = payments.table = "payments";
		mp::FieldMap buyer;
		buyer.path = "buyerId";
		buyer.kind = mp::FieldKind::Reference;
		buyer.column = "buyer_id";
		buyer.type = "uuid";
		buyer.references = "users";
		payments.fields.push_back(buyer);
		mapping_.collections = {payments, users}; // file order differs from load order on purpose
		order_ = {mapping_.Find("users"), mapping_.Find("payments")};
	}

	// Steps describes the plan's steps as "+users:A,B" / "-payments:C".
	std::vector<std::string>
	Steps(const mm::FollowPlan &plan) const {
		std::vector<std::string> out;
		for (const mm::PlanStep &step : plan.steps) {
			std::string text = (step.deletes ? "-" : "+") + step.collection->collection + ":";
			for (std::size_t i = 0; i < step.changes.size(); ++i)
				text += (i ? "," : "") + Short(step.changes[i].legacy_id);
			out.push_back(text);
		}
		return out;
	}
	static std::string
	Short(const std::string &legacy) {
		if (legacy == kA)
			return "A";
		if (legacy == kB)
			return "B";
		if (legacy == kC)
			return "C";
		return legacy;
	}

	mp::Mapping mapping_;
	std::vector<const mp::CollectionMap *> order_;
};

TEST_F(FollowReduceTest, DecodesADataChangeEvent) {
	mm::ChangeEvent event = Event("update", "users", Oid(kA), Doc(kA, "\"email\": \"a@x\""), 1700000000123);
	EXPECT_EQ(event.op, mm::ChangeOp::Update);
	EXPECT_EQ(event.operation, "update");
	EXPECT_EQ(event.collection, "users");
	EXPECT_EQ(mosta::sidecar::BsonToRelaxedJson(event.key.get()),
			  "{ \"_id\" : { \"$oid\" : \"" + std::string(kA) + "\" } }");
	ASSERT_TRUE(event.full_document);
	EXPECT_NE(mosta::sidecar::BsonToRelaxedJson(event.full_document.get()).find("a@x"), std::string::npos);
	EXPECT_EQ(event.wall_ms, 1700000000123);
	EXPECT_EQ(mm::TokenJson(event.token.get()), "{ \"_data\" : \"" + std::to_string(g_sequence) + "\" }");
}

TEST_F(FollowReduceTest, ANullFullDocumentIsNoDocument) {
	mm::ChangeEvent event = Event("update", "users", Oid(kA), "null");
	EXPECT_FALSE(event.full_document);
}

TEST_F(FollowReduceTest, ClusterTimeStandsInForAMissingWallTime) {
	mm::ChangeEvent event = mm::DecodeChangeEvent(
		Json("{\"_id\": {\"_data\": \"01\"}, \"operationType\": \"delete\", \"ns\": {\"db\": \"shop\", \"coll\": "
			 "\"users\"}, \"documentKey\": {\"_id\": \"u1\"}, \"clusterTime\": {\"$timestamp\": {\"t\": 1700000000, "
			 "\"i\": 3}}}")
			.get());
	EXPECT_EQ(event.wall_ms, 1700000000000LL);
}

TEST_F(FollowReduceTest, AnEventWithoutTokenOrKeyIsRefused) {
	EXPECT_THROW(mm::DecodeChangeEvent(Json("{\"operationType\": \"insert\"}").get()), mm::MongoSourceError);
	EXPECT_THROW(
		mm::DecodeChangeEvent(
			Json("{\"_id\": {\"_data\": \"01\"}, \"operationType\": \"delete\", \"ns\": {\"coll\": \"users\"}}").get()),
		mm::MongoSourceError);
}

TEST_F(FollowReduceTest, UpsertsParentsFirstDeletesChildrenFirst) {
	std::vector<mm::ChangeEvent> events;
	events.push_back(Event("insert", "payments", Oid(kC), Doc(kC, "\"buyerId\": " + Oid(kA))));
	events.push_back(Event("delete", "payments", Oid(kB)));
	events.push_back(Event("insert", "users", Oid(kA), Doc(kA)));
	events.push_back(Event("delete", "users", Oid(kB)));
	mm::FollowPlan plan = mm::ReducePlan(events, mapping_, order_);
	EXPECT_EQ(Steps(plan), (std::vector<std::string>{"+users:A", "+payments:C", "-payments:B", "-users:B"}));
	EXPECT_EQ(plan.events, 4);
	EXPECT_EQ(plan.skipped, 0);
}

TEST_F(FollowReduceTest, TheLastStateOfAKeyWins) {
	std::vector<mm::ChangeEvent> events;
	events.push_back(Event("insert", "users", Oid(kA), Doc(kA, "\"n\": 1")));
	events.push_back(Event("insert", "users", Oid(kB), Doc(kB)));
	events.push_back(Event("update", "users", Oid(kA), Doc(kA, "\"n\": 2")));
	events.push_back(Event("delete", "users", Oid(kB)));
	events.push_back(Event("delete", "users", Oid(kC)));
	events.push_back(Event("replace", "users", Oid(kC), Doc(kC, "\"n\": 3")));
	mm::FollowPlan plan = mm::ReducePlan(events, mapping_, order_);
	ASSERT_EQ(Steps(plan), (std::vector<std::string>{"+users:A,C", "-users:B"}));
	EXPECT_NE(mosta::sidecar::BsonToRelaxedJson(plan.steps[0].changes[0].document).find("\"n\" : 2"),
			  std::string::npos);
	EXPECT_NE(mosta::sidecar::BsonToRelaxedJson(plan.steps[0].changes[1].document).find("\"n\" : 3"),
			  std::string::npos);
	EXPECT_EQ(plan.steps[1].changes[0].document, nullptr);
	EXPECT_EQ(plan.events, 6);
}

TEST_F(FollowReduceTest, AnUpdateOfADeletedDocumentWaitsForItsDelete) {
	std::vector<mm::ChangeEvent> events;
	events.push_back(Event("update", "users", Oid(kA), "null"));
	mm::FollowPlan plan = mm::ReducePlan(events, mapping_, order_);
	EXPECT_TRUE(plan.steps.empty());
	EXPECT_EQ(plan.vanished, 1);
	EXPECT_EQ(plan.events, 1);

	events.push_back(Event("delete", "users", Oid(kA)));
	plan = mm::ReducePlan(events, mapping_, order_);
	EXPECT_EQ(Steps(plan), (std::vector<std::string>{"-users:A"}));
}

TEST_F(FollowReduceTest, OtherCollectionsAndOperationsAreSkipped) {
	std::vector<mm::ChangeEvent> events;
	events.push_back(Event("insert", "sessions", Oid(kA), Doc(kA), 1000));
	events.push_back(Event("createIndexes", "users", ""));
	events.push_back(Event("drop", "sessions", "", "", 2000));
	mm::FollowPlan plan = mm::ReducePlan(events, mapping_, order_);
	EXPECT_TRUE(plan.steps.empty());
	EXPECT_EQ(plan.events, 0);
	EXPECT_EQ(plan.skipped, 3);
	EXPECT_EQ(plan.last_wall_ms, 2000); // the position still moves past them
}

TEST_F(FollowReduceTest, LegacyIdsOfEveryIdType) {
	std::vector<mm::ChangeEvent> events;
	events.push_back(Event("delete", "users", "\"tpl-7\""));
	events.push_back(Event("delete", "users", "{\"$numberLong\": \"42\"}"));
	events.push_back(Event("delete", "users", "1.5"));
	mm::FollowPlan plan = mm::ReducePlan(events, mapping_, order_);
	ASSERT_EQ(plan.steps.size(), 1u);
	const std::vector<mm::KeyChange> &changes = plan.steps[0].changes;
	ASSERT_EQ(changes.size(), 3u);
	EXPECT_EQ(changes[0].legacy_id, "tpl-7");
	EXPECT_FALSE(changes[0].bad_id);
	EXPECT_EQ(changes[1].legacy_id, "42");
	EXPECT_TRUE(changes[2].bad_id); // a double _id has no legacy id: kept apart, by its JSON
	EXPECT_NE(changes[2].legacy_id.find("1.5"), std::string::npos);
}

TEST_F(FollowReduceTest, StructuralEventsStopTheCatchUp) {
	std::string why;
	EXPECT_TRUE(mm::StopsFollow(Event("drop", "users", ""), mapping_, &why));
	EXPECT_NE(why.find("users was dropped"), std::string::npos) << why;
	EXPECT_FALSE(mm::StopsFollow(Event("drop", "sessions", ""), mapping_, &why));
	mm::ChangeEvent rename = mm::DecodeChangeEvent(
		Json("{\"_id\": {\"_data\": \"01\"}, \"operationType\": \"rename\", \"ns\": {\"db\": \"shop\", \"coll\": "
			 "\"tmp\"}, \"to\": {\"db\": \"shop\", \"coll\": \"payments\"}}")
			.get());
	EXPECT_TRUE(mm::StopsFollow(rename, mapping_, &why));
	EXPECT_NE(why.find("renamed to payments"), std::string::npos) << why;
	EXPECT_TRUE(mm::StopsFollow(Event("invalidate", "", ""), mapping_, &why));
	EXPECT_TRUE(mm::StopsFollow(Event("dropDatabase", "", ""), mapping_, &why));
	EXPECT_FALSE(mm::StopsFollow(Event("delete", "users", Oid(kA)), mapping_, &why));
}

TEST(LegacyIdCandidates, EachTextStandsForTheIdTypesThatPrintAsIt) {
	mosta::sidecar::BsonHandle array = mm::LegacyIdCandidates({kA, "42", "042", "x"});
	EXPECT_EQ(
		mosta::sidecar::BsonToRelaxedJson(array.get()),
		"{ \"0\" : { \"$oid\" : \"507f1f77bcf86cd799439011\" }, \"1\" : \"507f1f77bcf86cd799439011\", \"2\" : 42, "
		"\"3\" : 42, \"4\" : \"42\", \"5\" : \"042\", \"6\" : \"x\" }");
}

TEST(ResumeToken, RoundTripsThroughItsText) {
	std::string text = "{ \"_data\" : \"00000000000000A1\" }";
	EXPECT_EQ(mm::TokenJson(mm::ParseToken(text).get()), text);
	EXPECT_THROW(mm::ParseToken("not json"), mm::MongoSourceError);
}

} // namespace
