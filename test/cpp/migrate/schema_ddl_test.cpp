// schema_ddl_test.cpp: the DDL of `mosta-migrate schema` for spec16's example: tables in load order with their
// foreign keys, the helpers' calls, idempotent statements, quoted identifiers, and index names within 63 bytes.
#include <gtest/gtest.h>

#include <string>

#include "mapping/mapping.hpp"
#include "mapping_example.hpp"
#include "schema_ddl.hpp"

namespace mosta::migrate {
namespace {

std::vector<std::string>
ExampleStatements() {
	return SchemaStatements(mapping::ParseMapping(mapping::test::kExampleMapping, "shop.json"));
}

// IndexOf returns the position of the first statement holding text, or -1.
int
IndexOf(const std::vector<std::string> &statements, const std::string &text) {
	for (std::size_t i = 0; i < statements.size(); ++i)
		if (statements[i].find(text) != std::string::npos)
			return static_cast<int>(i);
	return -1;
}

TEST(SchemaDdl, TablesInLoadOrderWithForeignKeys) {
	std::vector<std::string> s = ExampleStatements();
	int users = IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"users\" (");
	int requests = IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"purchase_requests\" (");
	int offers = IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"offers\" (");
	int payments = IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"payments\" (");
	ASSERT_GE(users, 0);
	EXPECT_LT(users, requests);
	EXPECT_LT(requests, payments);
	EXPECT_LT(offers, payments);
	const std::string &u = s[users];
	EXPECT_NE(u.find("\t\"id\" uuid PRIMARY KEY,\n\t\"legacy_object_id\" text NOT NULL UNIQUE,\n"), std::string::npos);
	EXPECT_NE(u.find("\"created_at\" timestamp with time zone NOT NULL"), std::string::npos);
	EXPECT_NE(u.find("\"referred_by_id\" uuid REFERENCES \"public\".\"users\" (\"id\")"), std::string::npos);
	EXPECT_NE(u.find("\t\"extra\" jsonb NOT NULL DEFAULT '{}'\n)"), std::string::npos);
	// polymorphic columns come from the helper, not from CREATE TABLE
	EXPECT_EQ(s[payments].find("purchase_request"), std::string::npos);
	EXPECT_EQ(s[payments + 1], "SELECT mosta_add_polymorphic_ref('\"public\".\"payments\"', 'purchase_request', "
							   "'\"public\".\"purchase_requests\"')");
}

TEST(SchemaDdl, ChildTables) {
	std::vector<std::string> s = ExampleStatements();
	int items = IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"payment_items\"");
	ASSERT_GT(items, IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"payments\""));
	EXPECT_NE(
		s[items].find("\"payment_id\" uuid NOT NULL REFERENCES \"public\".\"payments\" (\"id\") ON DELETE CASCADE"),
		std::string::npos);
	EXPECT_NE(s[items].find("\"position\" integer NOT NULL"), std::string::npos);
	EXPECT_NE(s[items].find("\"extra\" jsonb NOT NULL DEFAULT '{}'"), std::string::npos);
	EXPECT_NE(s[items].find("PRIMARY KEY (\"payment_id\", \"position\")"), std::string::npos);
	int offers = IndexOf(s, "CREATE TABLE IF NOT EXISTS \"public\".\"payment_offers\"");
	ASSERT_GE(offers, 0);
	EXPECT_NE(s[offers].find("\"offer_id\" uuid REFERENCES \"public\".\"offers\" (\"id\")"), std::string::npos);
	EXPECT_EQ(s[offers].find("extra"), std::string::npos); // an array of scalars has no extra column
}

TEST(SchemaDdl, HelpersAndIndexes) {
	std::vector<std::string> s = ExampleStatements();
	EXPECT_GE(IndexOf(s, "SELECT mosta_set_id_policy('users', 'objectid', true) WHERE NOT EXISTS (SELECT 1 FROM "
						 "mosta.id_policies p WHERE p.collection = 'users' AND p.policy = 'objectid' AND "
						 "p.require_objectid = true)"),
			  0);
	EXPECT_GE(IndexOf(s, "SELECT mosta_set_id_policy('offers', 'time-ordered', false)"), 0);
	EXPECT_GE(IndexOf(s, "SELECT mosta_add_sparse_unique('\"public\".\"users\"', ARRAY['email']::text[])"), 0);
	EXPECT_GE(
		IndexOf(s, "CREATE INDEX IF NOT EXISTS \"users_created_at_idx\" ON \"public\".\"users\" (\"created_at\")"), 0);
	EXPECT_GE(IndexOf(s, "CREATE UNIQUE INDEX IF NOT EXISTS \"payments_buyer_id_purchase_request_id_key\" ON "
						 "\"public\".\"payments\" (\"buyer_id\", \"purchase_request_id\") WHERE status = 'pending'"),
			  0);
	int ttl = IndexOf(s, "SELECT mosta_add_ttl('\"public\".\"payments\"', 'created_at', '90 days')");
	ASSERT_GE(ttl, 1);
	EXPECT_EQ(s[ttl - 1], "CREATE INDEX IF NOT EXISTS \"payments_created_at_idx\" ON \"public\".\"payments\" "
						  "(\"created_at\")");
	for (const std::string &statement : s)
		EXPECT_TRUE(statement.rfind("CREATE TABLE IF NOT EXISTS", 0) == 0 ||
					statement.rfind("CREATE INDEX IF NOT EXISTS", 0) == 0 ||
					statement.rfind("CREATE UNIQUE INDEX IF NOT EXISTS", 0) == 0 ||
					statement.rfind("SELECT mosta_", 0) == 0)
			<< "not idempotent: " << statement;
}

TEST(SchemaDdl, OtherSchema) {
	mapping::Mapping m = mapping::ParseMapping(
		"{\"name\": \"t\", \"target\": {\"schema\": \"legacy\"}, \"collections\": [{\"collection\": \"users\"}]}", "m");
	std::vector<std::string> s = SchemaStatements(m);
	ASSERT_FALSE(s.empty());
	EXPECT_EQ(s[0], "CREATE SCHEMA IF NOT EXISTS \"legacy\"");
	EXPECT_EQ(s[1].rfind("CREATE TABLE IF NOT EXISTS \"legacy\".\"users\"", 0), 0u);
}

TEST(SchemaDdl, IndexNamesFitAndStayDistinct) {
	EXPECT_EQ(IndexName("t", {"a", "b"}, "idx"), "t_a_b_idx");
	std::string long_table(50, 't');
	std::string one = IndexName(long_table, {"first_long_column_name"}, "key");
	std::string two = IndexName(long_table, {"first_long_column_other"}, "key");
	EXPECT_LE(one.size(), 63u);
	EXPECT_NE(one, two);
	EXPECT_EQ(one.substr(one.size() - 4), "_key");
}

} // namespace
} // namespace mosta::migrate
