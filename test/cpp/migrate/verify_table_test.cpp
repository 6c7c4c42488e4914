// verify_table_test.cpp: how verify and the shadow sampler compare a table on the legacy side (verify_table.hpp)
// and what the sampler reports of a difference (shadow_compare.hpp).
#include <gtest/gtest.h>

#include "shadow_compare.hpp"
#include "verify_table.hpp"

namespace mosta::migrate {
namespace {

using mapping::ColumnRole;

mapping::Mapping
ShopMapping() {
	mapping::Mapping shop;
	shop.name = "shop";
	shop.schema = "public";
	mapping::CollectionMap payments;
	payments.collection = "payments";
	payments.table = "payments";
	shop.collections.push_back(payments);
	return shop;
}

mapping::TableLayout
PaymentsLayout() {
	mapping::TableLayout layout;
	layout.table = "payments";
	layout.collection = "payments";
	layout.columns = {{"id", "uuid", ColumnRole::Id, true, "", nullptr},
					  {"legacy_object_id", "text", ColumnRole::LegacyId, true, "", nullptr},
					  {"buyer_id", "uuid", ColumnRole::Reference, true, "users", nullptr},
					  {"amount", "numeric(38,18)", ColumnRole::Value, true, "", nullptr},
					  {"extra", "jsonb", ColumnRole::Extra, true, "", nullptr}};
	return layout;
}

mapping::TableLayout
ItemsLayout() {
	mapping::TableLayout layout;
	layout.table = "payment_items";
	layout.collection = "payments";
	layout.child = true;
	layout.columns = {{"payment_id", "uuid", ColumnRole::Parent, true, "payments", nullptr},
					  {"position", "integer", ColumnRole::Position, true, "", nullptr},
					  {"sku", "text", ColumnRole::Value, false, "", nullptr}};
	return layout;
}

TEST(ComparedTable, LeavesTheIdOutAndStoresValuesAsPostgresqlDoes) {
	mapping::Mapping shop = ShopMapping();
	ComparedTable table(shop, PaymentsLayout());
	EXPECT_EQ(table.Names(), (std::vector<std::string>{"legacy_object_id", "buyer_id", "amount", "extra"}));
	mapping::MappedRow row{
		{std::nullopt, "65a1f0c2e4b0a1b2c3d4e5f6", "65a1f0c2e4b0a1b2c3d4e5aa", "12.5", R"({"z": 1, "a": 2})"}};
	std::vector<std::optional<std::string>> values = table.Values(row);
	ASSERT_EQ(values.size(), 4u);
	EXPECT_EQ(values[1], "65a1f0c2e4b0a1b2c3d4e5aa"); // the parent's legacy id, as is
	EXPECT_EQ(values[2], "12.500000000000000000");
	EXPECT_EQ(values[3], R"({"a": 2, "z": 1})");
	EXPECT_EQ(table.Key(row), "65a1f0c2e4b0a1b2c3d4e5f6");
	EXPECT_NE(table.RowHash(values), table.RowHash({values[0], values[1], "12.5", values[3]}));
}

TEST(ComparedTable, ReadsReferencesBackAsLegacyIds) {
	mapping::Mapping shop = ShopMapping();
	ComparedTable table(shop, PaymentsLayout());
	std::string sql = table.RowsSql(table.DocumentWhere());
	EXPECT_NE(sql.find(R"(LEFT JOIN mosta.id_map m1 ON m1.new_id = t."buyer_id" AND m1.collection = 'users')"),
			  std::string::npos)
		<< sql;
	EXPECT_NE(sql.find(R"(coalesce(m1.legacy_id, '(unmapped ' || t."buyer_id"::text || ')') AS "buyer_id")"),
			  std::string::npos)
		<< sql;
	EXPECT_EQ(sql.find(R"(t."id")"), std::string::npos) << sql; // the uuid is not compared
	EXPECT_NE(sql.find(R"(WHERE t."legacy_object_id" = $1)"), std::string::npos) << sql;
	EXPECT_NE(table.BucketChecksumsSql(16).find("mosta.canonical_checksum(r.*)"), std::string::npos);
	EXPECT_EQ(table.Quoted(), R"("public"."payments")");
}

TEST(ComparedTable, ChildRowsAreKeyedByParentAndPosition) {
	mapping::Mapping shop = ShopMapping();
	ComparedTable items(shop, ItemsLayout());
	mapping::MappedRow row{{"a,b", "2", "SKU-1"}};
	EXPECT_EQ(items.Key(row), "a\\,b,2");
	EXPECT_NE(items.DocumentWhere().find(
				  R"(t."payment_id" = (SELECT p."id" FROM "public"."payments" p WHERE p."legacy_object_id" = $1))"),
			  std::string::npos)
		<< items.DocumentWhere();
}

TEST(ShadowCompare, NamesColumnsAndLengthsNeverValues) {
	mapping::Mapping shop = ShopMapping();
	std::vector<ComparedTable> tables{ComparedTable(shop, PaymentsLayout()), ComparedTable(shop, ItemsLayout())};
	DocumentSide mongo{
		true, {{{"k1", {"k1", "u1", "12.50", "{}"}}}, {{"k1,0", {"k1", "0", "A"}}, {"k1,1", {"k1", "1", "B"}}}}};
	DocumentSide pg = mongo;
	EXPECT_TRUE(CompareDocument(tables, mongo, pg).empty());

	pg.tables[0]["k1"][2] = "13.5";
	pg.tables[1].erase("k1,1");
	std::vector<ShadowDifference> differences = CompareDocument(tables, mongo, pg);
	ASSERT_EQ(differences.size(), 2u);
	EXPECT_EQ(differences[0].column, "amount");
	EXPECT_EQ(differences[0].mongo, 5u);
	EXPECT_EQ(differences[0].pg, 4u);
	EXPECT_EQ(differences[1].table, "payment_items");
	EXPECT_EQ(differences[1].what, "missing in PostgreSQL");
	std::string json = DifferencesJson("shop", "payments", "k1", differences);
	EXPECT_EQ(json.find("12.50"), std::string::npos) << json;
	EXPECT_EQ(json.find("13.5"), std::string::npos) << json;
	EXPECT_NE(json.find(R"("column": "amount", "what": "differs", "mongodb_length": 5, "postgresql_length": 4)"),
			  std::string::npos)
		<< json;

	DocumentSide gone{false, {{}, {}}};
	differences = CompareDocument(tables, gone, pg);
	ASSERT_FALSE(differences.empty());
	EXPECT_EQ(differences[0].what, "missing in MongoDB");
}

} // namespace
} // namespace mosta::migrate

namespace mosta::migrate {
namespace {

// The re-read rule: a difference the second read no longer shows was a write racing the sampler.
TEST(ShadowCompare, ADifferenceGoneOnTheReReadIsNoMismatch) {
	mapping::Mapping shop = ShopMapping();
	std::vector<ComparedTable> tables{ComparedTable(shop, PaymentsLayout())};
	DocumentSide before{true, {{{"k1", {"k1", "u1", "12.50", "{}"}}}}};
	DocumentSide after{true, {{{"k1", {"k1", "u1", "13.00", "{}"}}}}};
	DocumentSide absent{false, {{}}};
	std::vector<ShadowDifference> differences;
	int reads = 0;
	int waits = 0;
	auto wait = [&] { ++waits; };

	// the catch-up applied the change between the two reads of the first attempt
	auto racing = [&] { return ++reads == 1 ? std::make_pair(after, before) : std::make_pair(after, after); };
	EXPECT_EQ(RecheckedOutcome(tables, racing, wait, true, differences), ShadowOutcome::Clean);
	EXPECT_EQ(reads, 2);
	EXPECT_EQ(waits, 1);

	// still different after the re-read: a mismatch, with the second read's differences
	reads = waits = 0;
	auto stale = [&] { return ++reads, std::make_pair(after, before); };
	EXPECT_EQ(RecheckedOutcome(tables, stale, wait, true, differences), ShadowOutcome::Mismatch);
	EXPECT_EQ(reads, 2);
	ASSERT_EQ(differences.size(), 1u);
	EXPECT_EQ(differences[0].column, "amount");

	// without a re-check the first difference counts
	reads = waits = 0;
	EXPECT_EQ(RecheckedOutcome(tables, racing, wait, false, differences), ShadowOutcome::Mismatch);
	EXPECT_EQ(waits, 0);

	// deleted on both sides since it was picked: not counted; a side missing it: a mismatch
	reads = 0;
	auto deleted = [&] { return ++reads == 1 ? std::make_pair(absent, before) : std::make_pair(absent, absent); };
	EXPECT_EQ(RecheckedOutcome(tables, deleted, wait, true, differences), ShadowOutcome::Gone);
	auto missing = [&] { return std::make_pair(absent, before); };
	EXPECT_EQ(RecheckedOutcome(tables, missing, wait, true, differences), ShadowOutcome::Mismatch);
	EXPECT_EQ(differences[0].what, "missing in MongoDB");
}

} // namespace
} // namespace mosta::migrate
