// apply_sql_test.cpp: the Applier's statements and COPY fields from hand-built layouts (no server).
#include <gtest/gtest.h>

#include "apply_rows.hpp"
#include "apply_sql.hpp"

namespace mosta::migrate {
namespace {

using mapping::ColumnRole;
using mapping::LayoutColumn;
using mapping::TableLayout;

struct Fixture {
	mapping::Mapping mapping;
	mapping::FieldMap email, referred, when, sku;
	TableLayout users, items;

	Fixture() {
		mapping.name = "shop";
		mapping::CollectionMap users_map;
		users_map.collection = "users";
		users_map.table = "users";
		mapping::CollectionMap tags;
		tags.collection = "tags";
		tags.table = "tags";
		tags.id_policy = mapping::IdPolicy::Random;
		mapping.collections = {users_map, tags};
		email.path = "email";
		referred.path = "referredBy";
		when.path = "createdAt";
		sku.path = "sku";
		users.table = "users";
		users.collection = "users";
		users.columns = {
			{"id", "uuid", ColumnRole::Id, true, "", nullptr},
			{"legacy_object_id", "text", ColumnRole::LegacyId, true, "", nullptr},
			{"email", "text", ColumnRole::Value, false, "", &email},
			{"referred_by_id", "uuid", ColumnRole::Reference, false, "users", &referred},
			{"created_at", "timestamp with time zone", ColumnRole::Value, true, "", &when},
			{"extra", "jsonb", ColumnRole::Extra, true, "", nullptr},
		};
		items.table = "payment_items";
		items.collection = "payments";
		items.child = true;
		items.columns = {
			{"payment_id", "uuid", ColumnRole::Parent, true, "payments", nullptr},
			{"position", "integer", ColumnRole::Position, true, "", nullptr},
			{"sku", "text", ColumnRole::Value, false, "", &sku},
			{"tag_id", "uuid", ColumnRole::Reference, false, "tags", nullptr},
		};
	}
};

TEST(ApplySql, CollectionUpsertResolvesReferencesAndSkipsEqualRows) {
	Fixture f;
	TableStatements sql = BuildTableStatements(f.mapping, f.users);
	EXPECT_EQ(sql.table, "\"public\".\"users\"");
	EXPECT_EQ(sql.key_column, 0U);
	EXPECT_NE(sql.create_stage.find("CREATE TEMP TABLE IF NOT EXISTS \"mosta_apply_users_"), std::string::npos)
		<< sql.create_stage;
	EXPECT_NE(sql.create_stage.find("(c1 text, c2 text, c3 text, c4 text, c5 text, c6 text, u4 text)"),
			  std::string::npos)
		<< sql.create_stage;
	EXPECT_EQ(sql.resolved, std::vector<std::size_t>{3});
	// the uuid the applier knows, else id_map (keying users' ObjectIds in lowercase): one index probe per row
	EXPECT_NE(sql.upsert.find("SELECT s.c1::uuid, s.c2::text, s.c3::text, coalesce(s.u4::uuid, (SELECT r4.new_id "
							  "FROM mosta.id_map r4 WHERE r4.collection = 'users' AND r4.legacy_id = lower(s.c4))), "
							  "s.c5::timestamp with time zone, s.c6::jsonb FROM"),
			  std::string::npos)
		<< sql.upsert;
	EXPECT_EQ(sql.upsert.find("JOIN"), std::string::npos) << sql.upsert;
	EXPECT_NE(
		sql.upsert.find("ON CONFLICT (\"id\") DO UPDATE SET \"legacy_object_id\" = excluded.\"legacy_object_id\""),
		std::string::npos);
	EXPECT_NE(sql.upsert.find("WHERE (t.\"legacy_object_id\", t.\"email\", t.\"referred_by_id\", t.\"created_at\", "
							  "t.\"extra\") IS DISTINCT FROM (excluded.\"legacy_object_id\""),
			  std::string::npos)
		<< sql.upsert;
	EXPECT_NE(sql.upsert.find("RETURNING t.\"id\"::text"), std::string::npos);
	EXPECT_TRUE(sql.trim.empty());
}

TEST(ApplySql, ChildUpsertByParentAndPositionAndTrim) {
	Fixture f;
	TableStatements sql = BuildTableStatements(f.mapping, f.items);
	EXPECT_EQ(sql.key_column, 0U);
	EXPECT_NE(sql.upsert.find("ON CONFLICT (\"payment_id\", \"position\") DO UPDATE SET \"sku\" = excluded.\"sku\""),
			  std::string::npos)
		<< sql.upsert;
	// tags use random ids: the legacy id is the key as it is
	EXPECT_NE(sql.upsert.find("r4.legacy_id = s.c4"), std::string::npos) << sql.upsert;
	EXPECT_NE(sql.upsert.find("RETURNING t.\"payment_id\"::text"), std::string::npos);
	EXPECT_NE(sql.trim.find("DELETE FROM \"public\".\"payment_items\" t USING unnest($1::uuid[], $2::integer[])"),
			  std::string::npos)
		<< sql.trim;
	EXPECT_NE(sql.trim.find("t.\"position\" >= n.length"), std::string::npos);
}

TEST(ApplySql, StagingTablesDifferPerShape) {
	Fixture f;
	std::string first = BuildTableStatements(f.mapping, f.users).stage;
	f.users.columns[2].type = "varchar";
	EXPECT_NE(BuildTableStatements(f.mapping, f.users).stage, first);
	EXPECT_LE(first.size(), 63U + 2U);
}

TEST(ApplySql, LayoutWithoutKeyIsRefused) {
	Fixture f;
	f.users.columns.erase(f.users.columns.begin());
	EXPECT_THROW(BuildTableStatements(f.mapping, f.users), mapping::MappingError);
}

TEST(ApplySql, TextArrayLiteralEscapes) {
	EXPECT_EQ(TextArrayLiteral(std::vector<std::string>{"a", "b\"c", "d\\e", ""}), R"({"a","b\"c","d\\e",""})");
	EXPECT_EQ(TextArrayLiteral(std::vector<std::optional<std::string>>{std::string("x"), std::nullopt}),
			  R"({"x",NULL})");
	EXPECT_EQ(TextArrayLiteral(std::vector<std::string>{}), "{}");
}

TEST(ApplyRows, FieldsConvertCanonicalToCopyText) {
	Fixture f;
	RowConverter rows(f.users, "");
	mapping::MappedRow row;
	row.values = {std::nullopt,
				  std::string("64b7f0a1c2d3e4f5a6b7c8d9"),
				  std::string("a\tb\\c"),
				  std::string("64b7f0a1c2d3e4f5a6b7c8da"),
				  std::string("2024-05-01T08:30:00.5+00:00"),
				  std::string("{}")};
	std::vector<std::string> fields = rows.Fields(row);
	ASSERT_EQ(fields.size(), 6U);
	EXPECT_EQ(fields[0], "\\N");
	EXPECT_EQ(fields[2], "a\\tb\\\\c");
	EXPECT_EQ(fields[4], "2024-05-01 08:30:00.5+00");
	std::string line;
	JoinCopyLine(line, fields, 0, "0190a1b2-0000-7000-8000-000000000000");
	EXPECT_EQ(line.substr(0, 37), "0190a1b2-0000-7000-8000-000000000000\t");
	EXPECT_EQ(line.back(), '\n');
}

TEST(ApplyRows, BadValueNamesItsField) {
	Fixture f;
	RowConverter rows(f.users, "");
	mapping::MappedRow row;
	row.values = {std::nullopt, std::string("1"),		  std::nullopt,
				  std::nullopt, std::string("yesterday"), std::string("{}")};
	try {
		rows.Fields(row);
		FAIL() << "no error";
	} catch (const FieldValueError &e) {
		EXPECT_EQ(e.field, "createdAt");
		EXPECT_NE(std::string(e.what()).find("yesterday"), std::string::npos) << e.what();
	}
	RowConverter child(f.items, "items");
	EXPECT_EQ(child.FieldName(2, 3), "items.3.sku");
}

TEST(ApplySql, IdMapKeyFollowsThePolicy) {
	Fixture f;
	EXPECT_EQ(IdMapKey(f.mapping, "users", "x"), "lower(x)");
	EXPECT_EQ(IdMapKey(f.mapping, "tags", "x"), "x");
	f.mapping.collections[1].require_objectid = true;
	EXPECT_EQ(IdMapKey(f.mapping, "tags", "x"), "lower(x)");
}

} // namespace
} // namespace mosta::migrate
