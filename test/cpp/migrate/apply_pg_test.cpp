// apply_pg_test.cpp: the Applier against PostgreSQL (MOSTA_MIGRATE_TEST_CONNINFO; test/integration/migrate_backfill.sh
// sets it, the tests skip without it): chains of self-references in one batch, re-applying changes nothing, child
// arrays shrinking, PostgreSQL refusals isolated by halving, duplicates, deletes refused, the backfill's remembered
// parents.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "apply.hpp"
#include "pg/errors.hpp"
#include "state.hpp"

namespace mosta::migrate {
namespace {

// The test's mapping: schema apply_test, collections prefixed apt_ (mosta.id_map is per database).
constexpr const char *kMapping = R"json({
  "name": "apply_test",
  "target": {"schema": "apply_test"},
  "collections": [
    {"collection": "apt_users", "table": "users", "id": {"policy": "objectid"},
     "fields": [{"path": "name", "column": "name", "type": "text"},
                {"path": "referredBy", "column": "referred_by_id", "references": "apt_users"},
                {"path": "mentor", "column": "mentor_id", "references": "apt_users"}]},
    {"collection": "apt_orders", "table": "orders", "id": {"policy": "random"},
     "fields": [{"path": "buyer", "column": "buyer_id", "references": "apt_users"},
                {"path": "qty", "column": "qty", "type": "integer"},
                {"path": "lines", "child_table": {"table": "order_lines", "parent_column": "order_id",
                   "fields": [{"path": "sku", "column": "sku", "type": "text"}]}}]}
  ]
})json";

constexpr const char *kTables = R"sql(
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS apply_test CASCADE;
DELETE FROM mosta.id_map WHERE collection LIKE 'apt\_%';
DELETE FROM mosta.id_policies WHERE collection LIKE 'apt\_%';
CREATE SCHEMA apply_test;
SELECT mosta_set_id_policy('apt_users', 'objectid');
SELECT mosta_set_id_policy('apt_orders', 'random');
CREATE TABLE apply_test.users (id uuid PRIMARY KEY, legacy_object_id text NOT NULL UNIQUE, name text,
  referred_by_id uuid REFERENCES apply_test.users (id), mentor_id uuid REFERENCES apply_test.users (id), extra jsonb NOT NULL DEFAULT '{}');
CREATE TABLE apply_test.orders (id uuid PRIMARY KEY, legacy_object_id text NOT NULL UNIQUE,
  buyer_id uuid REFERENCES apply_test.users (id), qty integer CHECK (qty > 0), extra jsonb NOT NULL DEFAULT '{}');
CREATE TABLE apply_test.order_lines (order_id uuid NOT NULL REFERENCES apply_test.orders (id) ON DELETE CASCADE,
  position integer NOT NULL, sku text, extra jsonb NOT NULL DEFAULT '{}', PRIMARY KEY (order_id, position));
DELETE FROM mosta_migration.problems WHERE mapping = 'apply_test';
)sql";

std::string
Oid(int n) {
	char text[25];
	std::snprintf(text, sizeof text, "65920a58%016x", n);
	return text;
}

class ApplyPg : public ::testing::Test {
  protected:
	void
	SetUp() override {
		const char *conninfo = std::getenv("MOSTA_MIGRATE_TEST_CONNINFO");
		if (conninfo == nullptr || *conninfo == '\0')
			GTEST_SKIP() << "MOSTA_MIGRATE_TEST_CONNINFO is not set (test/integration/migrate_backfill.sh sets it)";
		session_ = std::make_unique<sidecar::PgSession>(conninfo);
		EnsureState(*session_);
		session_->Exec(kTables, "setting up");
		mapping_ = mapping::ParseMapping(kMapping, "apply_test.json");
		applier_ = std::make_unique<Applier>(*session_, mapping_);
	}

	void
	TearDown() override {
		if (session_ != nullptr)
			session_->TryExec("SET client_min_messages = warning; DROP SCHEMA IF EXISTS apply_test CASCADE");
	}

	// Docs transforms JSON documents (extended JSON) of collection.
	std::vector<mapping::MappedDocument>
	Docs(const std::string &collection, const std::vector<std::string> &json) {
		std::vector<mapping::MappedDocument> docs;
		for (const std::string &text : json) {
			bson_error_t error;
			bson_t *doc = bson_new_from_json(reinterpret_cast<const std::uint8_t *>(text.data()),
											 static_cast<ssize_t>(text.size()), &error);
			EXPECT_NE(doc, nullptr) << text << ": " << error.message;
			docs.push_back(mapping::TransformDocument(mapping_, *mapping_.Find(collection), doc));
			bson_destroy(doc);
		}
		return docs;
	}

	ApplyCounts
	Upsert(const std::string &collection, const std::vector<std::string> &json) {
		std::vector<mapping::MappedDocument> docs = Docs(collection, json);
		session_->Exec("BEGIN", "test");
		ApplyCounts counts = applier_->Upsert(*mapping_.Find(collection), docs);
		session_->Exec("COMMIT", "test");
		return counts;
	}

	std::string
	Scalar(const std::string &sql) {
		sidecar::PgResultHandle result = session_->Query(sql, {}, "test");
		return PQntuples(result.get()) == 0 || PQgetisnull(result.get(), 0, 0) ? "" : PQgetvalue(result.get(), 0, 0);
	}

	static std::string
	User(int n, const std::string &name, int referred = -1) {
		return R"({"_id": {"$oid": ")" + Oid(n) + R"("}, "name": ")" + name + "\"" +
			   (referred < 0 ? "" : R"(, "referredBy": {"$oid": ")" + Oid(referred) + "\"}") + "}";
	}

	std::unique_ptr<sidecar::PgSession> session_;
	mapping::Mapping mapping_;
	std::unique_ptr<Applier> applier_;
};

TEST_F(ApplyPg, SelfReferencesResolveInTheBatchAndChainsAreHeldBackWhole) {
	// 1 → 2 (same batch, later), 3 → 4 → 5 → 99 (missing): 3, 4 and 5 wait
	ApplyCounts counts =
		Upsert("apt_users", {User(1, "a", 2), User(2, "b"), User(3, "c", 4), User(4, "d", 5), User(5, "e", 99)});
	EXPECT_EQ(counts.applied, 2);
	EXPECT_EQ(counts.missing_parent, 3);
	EXPECT_EQ(Scalar("SELECT r.legacy_object_id FROM apply_test.users u JOIN apply_test.users r ON r.id = "
					 "u.referred_by_id"),
			  Oid(2));
	EXPECT_EQ(Scalar("SELECT string_agg(legacy_id || ':' || parent_legacy_id || ':' || (message LIKE '%held back%'), "
					 "' ' ORDER BY legacy_id) FROM mosta_migration.problems WHERE mapping = 'apply_test'"),
			  Oid(3) + ":" + Oid(4) + ":true " + Oid(4) + ":" + Oid(5) + ":true " + Oid(5) + ":" + Oid(99) + ":false");
	// the missing parent arrives: the whole chain applies, its problems cleared
	counts = Upsert("apt_users", {User(99, "z"), User(3, "c", 4), User(4, "d", 5), User(5, "e", 99)});
	EXPECT_EQ(counts.applied, 4);
	EXPECT_EQ(Scalar("SELECT count(*) FROM mosta_migration.problems WHERE mapping = 'apply_test'"), "0");
}

TEST_F(ApplyPg, OnlyTheMissingReferenceIsReported) {
	// 6 names 1 (in the batch, written) and 99 (missing): one problem, on mentor
	std::string six = R"({"_id": {"$oid": ")" + Oid(6) + R"("}, "referredBy": {"$oid": ")" + Oid(1) +
					  R"("}, "mentor": {"$oid": ")" + Oid(99) + R"("}})";
	ApplyCounts counts = Upsert("apt_users", {User(1, "a"), six});
	EXPECT_EQ(counts.applied, 1);
	EXPECT_EQ(counts.missing_parent, 1);
	EXPECT_EQ(Scalar("SELECT string_agg(legacy_id || ':' || field || ':' || parent_legacy_id, ' ') FROM "
					 "mosta_migration.problems WHERE mapping = 'apply_test'"),
			  Oid(6) + ":mentor:" + Oid(99));
}

TEST_F(ApplyPg, ReapplyingChangesNothingAndArraysShrink) {
	Upsert("apt_users", {User(1, "a")});
	std::string order = R"({"_id": "o1", "buyer": {"$oid": ")" + Oid(1) + R"("}, "qty": 2, "lines": [{"sku": "x"},
		{"sku": "y", "gift": true}, {"sku": "z"}]})";
	EXPECT_EQ(Upsert("apt_orders", {order}).applied, 1);
	std::string tuples = Scalar("SELECT string_agg(ctid::text || xmin::text, ',') FROM apply_test.order_lines");
	ApplyCounts again = Upsert("apt_orders", {order});
	EXPECT_EQ(again.applied, 0);
	EXPECT_EQ(again.unchanged, 1);
	EXPECT_EQ(Scalar("SELECT string_agg(ctid::text || xmin::text, ',') FROM apply_test.order_lines"), tuples);
	EXPECT_EQ(Scalar("SELECT extra::text FROM apply_test.order_lines WHERE position = 1"), R"({"gift": true})");
	EXPECT_EQ(Upsert("apt_orders", {R"({"_id": "o1", "qty": 2, "lines": [{"sku": "x"}]})"}).applied, 1);
	EXPECT_EQ(Scalar("SELECT count(*) || ' ' || coalesce((SELECT buyer_id::text FROM apply_test.orders), 'null') "
					 "FROM apply_test.order_lines"),
			  "1 null");
	EXPECT_EQ(Upsert("apt_orders", {R"({"_id": "o1", "qty": 2})"}).applied, 1);
	EXPECT_EQ(Scalar("SELECT count(*) FROM apply_test.order_lines"), "0");
}

TEST_F(ApplyPg, RefusedDocumentsAreIsolatedAndTheRestApplied) {
	std::vector<std::string> orders;
	for (int i = 0; i < 10; ++i)
		orders.push_back(R"({"_id": "o)" + std::to_string(i) + R"(", "qty": )" + (i == 3 || i == 8 ? "0" : "1") + "}");
	ApplyCounts counts = Upsert("apt_orders", orders);
	EXPECT_EQ(counts.applied, 8);
	EXPECT_EQ(counts.rejected, 2);
	EXPECT_EQ(Scalar("SELECT string_agg(legacy_id || ':' || sqlstate, ' ' ORDER BY legacy_id) FROM "
					 "mosta_migration.problems WHERE mapping = 'apply_test' AND kind = 'rejected'"),
			  "o3:23514 o8:23514");
	// fixed in MongoDB: applied, the problem gone
	EXPECT_EQ(Upsert("apt_orders", {R"({"_id": "o3", "qty": 5})"}).applied, 1);
	EXPECT_EQ(Scalar("SELECT string_agg(legacy_id, ' ') FROM mosta_migration.problems WHERE mapping = 'apply_test'"),
			  "o8");
}

TEST_F(ApplyPg, TheLastVersionOfADocumentWins) {
	ApplyCounts counts = Upsert("apt_users", {User(1, "old"), User(2, "b"), User(1, "new")});
	EXPECT_EQ(counts.applied, 2);
	EXPECT_EQ(Scalar("SELECT name FROM apply_test.users WHERE legacy_object_id = '" + Oid(1) + "'"), "new");
}

TEST_F(ApplyPg, DeletesCascadeToChildrenAndRefusedOnesAreReported) {
	Upsert("apt_users", {User(1, "a"), User(2, "b")});
	Upsert("apt_orders", {R"({"_id": "o1", "buyer": {"$oid": ")" + Oid(1) + R"("}, "lines": [{"sku": "x"}]})"});
	session_->Exec("BEGIN", "test");
	ApplyCounts counts = applier_->Delete(*mapping_.Find("apt_users"), {Oid(1), Oid(2), Oid(3)});
	session_->Exec("COMMIT", "test");
	EXPECT_EQ(counts.deleted, 1);
	EXPECT_EQ(counts.rejected, 1);
	EXPECT_EQ(Scalar("SELECT legacy_id || ':' || sqlstate FROM mosta_migration.problems WHERE mapping = 'apply_test'"),
			  Oid(1) + ":23503");
	session_->Exec("BEGIN", "test");
	counts = applier_->Delete(*mapping_.Find("apt_orders"), {"o1"});
	counts += applier_->Delete(*mapping_.Find("apt_users"), {Oid(1)});
	session_->Exec("COMMIT", "test");
	EXPECT_EQ(counts.deleted, 2);
	EXPECT_EQ(Scalar("SELECT count(*) FROM apply_test.order_lines"), "0");
	EXPECT_EQ(Scalar("SELECT count(*) FROM mosta_migration.problems WHERE mapping = 'apply_test'"), "0");
}

TEST_F(ApplyPg, OutsideATransactionIsASessionError) {
	EXPECT_THROW(applier_->Upsert(*mapping_.Find("apt_users"), Docs("apt_users", {User(1, "a")})), sidecar::PgError);
}

TEST_F(ApplyPg, RememberedParentsAreTheCommittedOnes) {
	// the backfill's mode: a parent written and committed is not looked up again and its uuid is the applier's
	applier_->RememberWritten();
	EXPECT_EQ(Upsert("apt_users", {User(1, "a")}).applied, 1);
	applier_->Committed();
	session_->Exec("BEGIN", "test");
	EXPECT_EQ(applier_->Upsert(*mapping_.Find("apt_users"), Docs("apt_users", {User(2, "b")})).applied, 1);
	session_->Exec("ROLLBACK", "test");
	applier_->Forget(); // user 2 is not in PostgreSQL: its orders wait for it, not refused by the foreign key
	EXPECT_EQ(Upsert("apt_users", {User(3, "c")}).applied, 1);
	applier_->Committed(); // promotes user 3 only
	ApplyCounts counts = Upsert("apt_orders", {R"({"_id": "o1", "buyer": {"$oid": ")" + Oid(1) + R"("}, "qty": 1})",
											   R"({"_id": "o2", "buyer": {"$oid": ")" + Oid(2) + R"("}, "qty": 1})"});
	applier_->Committed();
	EXPECT_EQ(counts.applied, 1);
	EXPECT_EQ(counts.missing_parent, 1);
	EXPECT_EQ(counts.rejected, 0);
	EXPECT_EQ(Scalar("SELECT o.buyer_id = m.new_id FROM apply_test.orders o JOIN mosta.id_map m ON m.collection = "
					 "'apt_users' AND m.legacy_id = '" +
					 Oid(1) + "' WHERE o.legacy_object_id = 'o1'"),
			  "t");
	EXPECT_EQ(Scalar("SELECT parent_legacy_id FROM mosta_migration.problems WHERE mapping = 'apply_test'"), Oid(2));
}

} // namespace
} // namespace mosta::migrate
