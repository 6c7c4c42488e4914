// transform_test.cpp: the forward transform of whole documents: table layouts, legacy ids, references,
// polymorphic references, child tables and the extra column (spec: "Forward transform semantics").
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "mapping/transform.hpp"
#include "support/bson_doc.hpp"

namespace mosta::mapping {
namespace {

using testing::BsonPtr;
using testing::Json;
using Values = std::vector<std::optional<std::string>>;
constexpr std::nullopt_t kNull = std::nullopt;

FieldMap
ColumnField(std::string path, std::string column, std::string type, bool not_null = false) {
	FieldMap field;
	field.path = std::move(path);
	field.column = std::move(column);
	field.type = std::move(type);
	field.not_null = not_null;
	return field;
}

FieldMap
Reference(std::string path, std::string column, std::string references, bool not_null = false) {
	FieldMap field = ColumnField(std::move(path), std::move(column), "uuid", not_null);
	field.kind = FieldKind::Reference;
	field.references = std::move(references);
	return field;
}

// Shop is the spec's example mapping (users, payments with two child tables).
Mapping
Shop() {
	Mapping mapping;
	mapping.name = "shop";
	CollectionMap users;
	users.collection = "users";
	users.table = "users";
	users.require_objectid = true;
	users.fields = {ColumnField("email", "email", "text"),
					ColumnField("profile.displayName", "display_name", "text"),
					ColumnField("createdAt", "created_at", "timestamp with time zone", true),
					Reference("referredBy", "referred_by_id", "users"),
					ColumnField("points", "points", "bigint"),
					ColumnField("tags", "tags", "jsonb")};
	mapping.collections.push_back(users);

	CollectionMap payments;
	payments.collection = "payments";
	payments.table = "payments";
	FieldMap poly;
	poly.path = "purchaseRequestId";
	poly.kind = FieldKind::Polymorphic;
	poly.column = "purchase_request";
	poly.references = "purchase_requests";
	FieldMap items;
	items.path = "items";
	items.kind = FieldKind::ChildTable;
	items.child = 0;
	FieldMap offers;
	offers.path = "offerIds";
	offers.kind = FieldKind::ChildTable;
	offers.child = 1;
	payments.fields = {Reference("buyerId", "buyer_id", "users", true),
					   poly,
					   ColumnField("amount.value", "amount", "numeric(38,18)", true),
					   ColumnField("status", "status", "text", true),
					   items,
					   offers};
	ChildMap item_table;
	item_table.table = "payment_items";
	item_table.parent_column = "payment_id";
	item_table.fields = {ColumnField("sku", "sku", "text"), ColumnField("qty", "qty", "integer")};
	ChildMap offer_table;
	offer_table.table = "payment_offers";
	offer_table.extra_column = "";
	offer_table.fields = {Reference("", "offer_id", "offers")};
	payments.children = {item_table, offer_table};
	mapping.collections.push_back(payments);
	return mapping;
}

MappedDocument
Transform(const Mapping &mapping, const std::string &collection, const std::string &json) {
	BsonPtr doc = Json(json);
	return TransformDocument(mapping, *mapping.Find(collection), doc.get());
}

std::string
Problems(const MappedDocument &mapped) {
	std::string out;
	for (const TransformProblem &problem : mapped.problems)
		out += problem.field + " = " + problem.value + ": " + problem.reason + "\n";
	return out;
}

TEST(Transform, CollectionLayout) {
	Mapping mapping = Shop();
	TableLayout users = CollectionLayout(mapping, mapping.collections[0]);
	EXPECT_EQ(users.table, "users");
	EXPECT_FALSE(users.child);
	std::vector<std::string> names;
	for (const LayoutColumn &column : users.columns)
		names.push_back(column.name);
	EXPECT_EQ(names, (std::vector<std::string>{"id", "legacy_object_id", "email", "display_name", "created_at",
											   "referred_by_id", "points", "tags", "extra"}));
	EXPECT_EQ(users.columns[0].role, ColumnRole::Id);
	EXPECT_EQ(users.columns[1].role, ColumnRole::LegacyId);
	EXPECT_EQ(users.columns[4].type, "timestamp with time zone");
	EXPECT_TRUE(users.columns[4].not_null);
	EXPECT_EQ(users.columns[5].role, ColumnRole::Reference);
	EXPECT_EQ(users.columns[5].type, "uuid");
	EXPECT_EQ(users.columns[5].references, "users");
	EXPECT_EQ(users.columns[5].field, &mapping.collections[0].fields[3]);
	EXPECT_EQ(users.columns[8].role, ColumnRole::Extra);
	EXPECT_EQ(users.columns[8].type, "jsonb");

	TableLayout payments = CollectionLayout(mapping, mapping.collections[1]);
	names.clear();
	for (const LayoutColumn &column : payments.columns)
		names.push_back(column.name);
	EXPECT_EQ(names, (std::vector<std::string>{"id", "legacy_object_id", "buyer_id", "purchase_request_ref_kind",
											   "purchase_request_id", "purchase_request_external_ref", "amount",
											   "status", "extra"}));
	EXPECT_EQ(payments.columns[3].role, ColumnRole::PolyKind);
	EXPECT_EQ(payments.columns[4].role, ColumnRole::PolyId);
	EXPECT_EQ(payments.columns[4].references, "purchase_requests");
	EXPECT_EQ(payments.columns[5].role, ColumnRole::PolyExternal);
}

TEST(Transform, ChildLayouts) {
	Mapping mapping = Shop();
	TableLayout items = ChildLayout(mapping, mapping.collections[1], 0);
	EXPECT_TRUE(items.child);
	EXPECT_EQ(items.child_index, 0u);
	EXPECT_EQ(items.table, "payment_items");
	EXPECT_EQ(items.collection, "payments");
	ASSERT_EQ(items.columns.size(), 5u);
	EXPECT_EQ(items.columns[0].name, "payment_id");
	EXPECT_EQ(items.columns[0].role, ColumnRole::Parent);
	EXPECT_EQ(items.columns[0].references, "payments");
	EXPECT_EQ(items.columns[1].name, "position");
	EXPECT_EQ(items.columns[1].role, ColumnRole::Position);
	EXPECT_EQ(items.columns[2].name, "sku");
	EXPECT_EQ(items.columns[3].name, "qty");
	EXPECT_EQ(items.columns[4].role, ColumnRole::Extra);

	TableLayout offers = ChildLayout(mapping, mapping.collections[1], 1);
	ASSERT_EQ(offers.columns.size(), 3u); // scalars: no extra
	EXPECT_EQ(offers.columns[0].name, "parent_id");
	EXPECT_EQ(offers.columns[2].name, "offer_id");
	EXPECT_EQ(offers.columns[2].role, ColumnRole::Reference);
	EXPECT_EQ(offers.columns[2].references, "offers");
}

TEST(Transform, UserDocument) {
	Mapping mapping = Shop();
	MappedDocument mapped = Transform(mapping, "users", R"({
		"_id": {"$oid": "65A1B2C3D4E5F60718293A4B"}, "email": "a@example.com",
		"profile": {"displayName": "Ann", "bio": "hi", "links": {}},
		"createdAt": {"$date": {"$numberLong": "1700000000123"}}, "referredBy": {"$oid": "65a1b2c3d4e5f60718293a4c"},
		"points": 12, "tags": ["x", {"k": 1}], "passkeys": [{"id": "p1"}], "zeta": null})");
	ASSERT_TRUE(mapped.problems.empty()) << Problems(mapped);
	EXPECT_EQ(mapped.legacy_id, "65a1b2c3d4e5f60718293a4b");
	EXPECT_EQ(mapped.row.values,
			  (Values{kNull, "65a1b2c3d4e5f60718293a4b", "a@example.com", "Ann", "2023-11-14T22:13:20.123+00:00",
					  "65a1b2c3d4e5f60718293a4c", "12", R"(["x", {"k": 1}])",
					  R"({"zeta": null, "profile": {"bio": "hi", "links": {}}, "passkeys": [{"id": "p1"}]})"}));
	EXPECT_TRUE(mapped.children.empty());
}

TEST(Transform, ExtraKeepsEverythingUnmapped) {
	Mapping mapping = Shop();
	const std::string base = R"("_id": "u1", "createdAt": {"$date": {"$numberLong": "0"}})";
	struct Case {
		std::string fields;
		std::string extra;
	} cases[] = {
		{"", "{}"},
		// a subdocument the removal leaves empty is dropped; one that was empty stays
		{R"("profile": {"displayName": "Ann"}, "empty": {})", R"({"empty": {}})"},
		// the path cannot be followed: the value stays whole (and the column is NULL)
		{R"("profile": "Ann")", R"({"profile": "Ann"})"},
		{R"("profile": [{"displayName": "Ann"}])", R"({"profile": [{"displayName": "Ann"}]})"},
		// a jsonb column's value is removed whole; null mapped values too
		{R"("tags": {"a": 1}, "email": null, "other": {"$numberDecimal": "1.10"})", R"({"other": 1.10})"},
	};
	for (const Case &c : cases) {
		MappedDocument mapped =
			Transform(mapping, "users", "{" + base + (c.fields.empty() ? "" : ", ") + c.fields + "}");
		ASSERT_TRUE(mapped.problems.empty()) << c.fields << ": " << Problems(mapped);
		EXPECT_EQ(mapped.row.values.back(), c.extra) << c.fields;
	}
	MappedDocument mapped = Transform(mapping, "users", "{" + base + R"(, "profile": "Ann"})");
	EXPECT_EQ(mapped.row.values[3], kNull);
}

TEST(Transform, DuplicateKeysInExtraKeepTheLastAsJsonbDoes) {
	Mapping mapping = Shop();
	bson_t doc = BSON_INITIALIZER;
	BSON_APPEND_UTF8(&doc, "_id", "u1");
	BSON_APPEND_DATE_TIME(&doc, "createdAt", 0);
	BSON_APPEND_INT32(&doc, "dup", 1);
	BSON_APPEND_INT32(&doc, "dup", 2);
	MappedDocument mapped = TransformDocument(mapping, mapping.collections[0], &doc);
	EXPECT_EQ(mapped.row.values.back(), R"({"dup": 2})");
	bson_destroy(&doc);
}

TEST(Transform, LegacyIds) {
	Mapping mapping = Shop();
	struct Case {
		std::string id;
		std::string legacy;
	} cases[] = {
		{R"({"$oid": "65a1b2c3d4e5f60718293a4b"})", "65a1b2c3d4e5f60718293a4b"},
		{R"("legacy-7")", "legacy-7"},
		{R"(42)", "42"},
		{R"({"$numberLong": "-9000000000"})", "-9000000000"},
	};
	for (const Case &c : cases) {
		MappedDocument mapped =
			Transform(mapping, "users", R"({"_id": )" + c.id + R"(, "createdAt": {"$date": {"$numberLong": "0"}}})");
		EXPECT_EQ(mapped.legacy_id, c.legacy);
		EXPECT_EQ(mapped.row.values[1], c.legacy);
	}
	EXPECT_THROW(Transform(mapping, "users", R"({"a": 1})"), MappingError);
	try {
		Transform(mapping, "users", R"({"_id": 1.5})");
		ADD_FAILURE() << "a double _id was taken";
	} catch (const MappingError &error) {
		EXPECT_NE(std::string(error.what()).find("collection users: the _id 1.5 is double"), std::string::npos)
			<< error.what();
	}
	BsonPtr id = Json(R"({"v": {"a": 1}})");
	bson_iter_t iter;
	ASSERT_TRUE(bson_iter_init_find(&iter, id.get(), "v"));
	EXPECT_EQ(LegacyIdText(&iter), kNull);
}

TEST(Transform, References) {
	Mapping mapping = Shop();
	const std::string base = R"("_id": 1, "createdAt": {"$date": {"$numberLong": "0"}})";
	EXPECT_EQ(Transform(mapping, "users", "{" + base + R"(, "referredBy": "u-legacy"})").row.values[5], "u-legacy");
	EXPECT_EQ(Transform(mapping, "users", "{" + base + R"(, "referredBy": 7})").row.values[5], "7");
	EXPECT_EQ(Transform(mapping, "users", "{" + base + R"(, "referredBy": null})").row.values[5], kNull);
	MappedDocument bad = Transform(mapping, "users", "{" + base + R"(, "referredBy": {"id": 1}})");
	ASSERT_EQ(bad.problems.size(), 1u);
	EXPECT_EQ(bad.problems[0].field, "referredBy");
	EXPECT_EQ(bad.problems[0].value, R"({ "id" : 1 })");
	EXPECT_NE(bad.problems[0].reason.find("a reference must be an objectId or a string"), std::string::npos);

	// buyerId is NOT NULL
	MappedDocument missing = Transform(mapping, "payments", R"({"_id": 1, "amount": {"value": 1}, "status": "x"})");
	ASSERT_EQ(missing.problems.size(), 1u) << Problems(missing);
	EXPECT_EQ(missing.problems[0].field, "buyerId");
	EXPECT_EQ(missing.problems[0].reason, "missing, and the column buyer_id is NOT NULL");
}

TEST(Transform, PaymentWithPolymorphicReferenceAndChildren) {
	Mapping mapping = Shop();
	MappedDocument mapped = Transform(mapping, "payments", R"({
		"_id": {"$oid": "65a1b2c3d4e5f60718293a50"}, "buyerId": {"$oid": "65a1b2c3d4e5f60718293a4b"},
		"purchaseRequestId": {"$oid": "65a1b2c3d4e5f60718293a51"},
		"amount": {"value": {"$numberDecimal": "12.5"}, "currency": "EUR"}, "status": "pending",
		"items": [{"sku": "A", "qty": 2, "note": "gift"}, {"sku": "B", "qty": {"$numberLong": "1"}}],
		"offerIds": [{"$oid": "65a1b2c3d4e5f60718293a60"}, "offer-legacy"], "metadata": {"ip": "10.0.0.1"}})");
	ASSERT_TRUE(mapped.problems.empty()) << Problems(mapped);
	EXPECT_EQ(mapped.row.values, (Values{kNull, "65a1b2c3d4e5f60718293a50", "65a1b2c3d4e5f60718293a4b", "entity",
										 "65a1b2c3d4e5f60718293a51", kNull, "12.500000000000000000", "pending",
										 R"({"amount": {"currency": "EUR"}, "metadata": {"ip": "10.0.0.1"}})"}));
	ASSERT_EQ(mapped.children.size(), 2u);
	ASSERT_EQ(mapped.children[0].size(), 2u);
	EXPECT_EQ(mapped.children[0][0].values, (Values{"65a1b2c3d4e5f60718293a50", "0", "A", "2", R"({"note": "gift"})"}));
	EXPECT_EQ(mapped.children[0][1].values, (Values{"65a1b2c3d4e5f60718293a50", "1", "B", "1", "{}"}));
	ASSERT_EQ(mapped.children[1].size(), 2u);
	EXPECT_EQ(mapped.children[1][0].values, (Values{"65a1b2c3d4e5f60718293a50", "0", "65a1b2c3d4e5f60718293a60"}));
	EXPECT_EQ(mapped.children[1][1].values, (Values{"65a1b2c3d4e5f60718293a50", "1", "offer-legacy"}));

	// a template reference; no arrays: no child rows
	mapped = Transform(mapping, "payments", R"({"_id": "p2", "buyerId": "u1", "purchaseRequestId": "template:gold",
		"amount": {"value": 3}, "status": "paid", "items": null})");
	ASSERT_TRUE(mapped.problems.empty()) << Problems(mapped);
	EXPECT_EQ(mapped.row.values[3], "template");
	EXPECT_EQ(mapped.row.values[4], kNull);
	EXPECT_EQ(mapped.row.values[5], "template:gold");
	EXPECT_EQ(mapped.row.values.back(), "{}");
	EXPECT_TRUE(mapped.children[0].empty());
	EXPECT_TRUE(mapped.children[1].empty());

	mapped =
		Transform(mapping, "payments", R"({"_id": "p3", "buyerId": "u1", "amount": {"value": 3}, "status": "paid"})");
	EXPECT_EQ(mapped.row.values[3], kNull);
	EXPECT_EQ(mapped.row.values[4], kNull);
	EXPECT_EQ(mapped.row.values[5], kNull);
}

TEST(Transform, ProblemsOfPaymentsNameTheirFields) {
	Mapping mapping = Shop();
	MappedDocument mapped = Transform(mapping, "payments", R"({"_id": "p4", "buyerId": "u1",
		"purchaseRequestId": 5, "amount": {"value": "lots"}, "status": "paid",
		"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": "two"}, "C"], "offerIds": {"a": 1}})");
	EXPECT_EQ(Problems(mapped),
			  "purchaseRequestId = 5: a polymorphic reference must be an objectId (an entity of purchase_requests) or "
			  "a string (a template), not int\n"
			  "amount.value = \"lots\": a string that is not a number\n"
			  "items.1.qty = \"two\": a string cannot be stored in an integer column\n"
			  "items.2 = \"C\": an element of items must be an object (child table payment_items), not string\n"
			  "offerIds = { \"a\" : 1 }: the child table payment_offers needs an array, not object\n");
}

} // namespace
} // namespace mosta::mapping
