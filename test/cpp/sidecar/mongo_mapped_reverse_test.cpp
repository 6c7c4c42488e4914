/*
 * mongo_mapped_reverse_test.cpp
 *     The reverse mapping of the rollback mirror (mapping/reverse.hpp), without a server or a mapping file: rows
 *     as the decoded change gives them → the legacy documents (nested paths, ObjectId ids and references,
 *     polymorphic references, bson types, child arrays, extra merged back).
 */
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "mapping/reverse.hpp"

namespace mosta::mapping {
namespace {

using sidecar::BsonToRelaxedJson;
using sidecar::MappingNotes;
using sidecar::Value;

constexpr const char *kUser = "65f1a2b3c4d5e6f708192a3b";
constexpr const char *kUserUuid = "0190f1a2-b3c4-7d5e-8f70-8192a3b00001";
constexpr const char *kReferrer = "65f1a2b3c4d5e6f708192a3c";
constexpr const char *kReferrerUuid = "0190f1a2-b3c4-7d5e-8f70-8192a3b00002";
constexpr const char *kRequestUuid = "0190f1a2-b3c4-7d5e-8f70-8192a3b00003";
constexpr const char *kRequest = "65f1a2b3c4d5e6f708192a3d";
constexpr const char *kOfferUuid = "0190f1a2-b3c4-7d5e-8f70-8192a3b00004";
constexpr const char *kOffer = "65f1a2b3c4d5e6f708192a3e";

FieldMap
Column(std::string path, std::string column, std::string type, std::string bson = "") {
	FieldMap field;
	field.path = std::move(path);
	field.column = std::move(column);
	field.type = std::move(type);
	field.bson_type = std::move(bson);
	return field;
}

FieldMap
Reference(std::string path, std::string column, std::string references) {
	FieldMap field;
	field.kind = FieldKind::Reference;
	field.path = std::move(path);
	field.column = std::move(column);
	field.type = "uuid";
	field.references = std::move(references);
	return field;
}

// ShopMapping is the contract's example mapping (users, payments with items and offerIds), built in code.
Mapping
ShopMapping() {
	Mapping mapping;
	mapping.name = "shop";
	CollectionMap users;
	users.collection = users.table = "users";
	users.fields = {Column("email", "email", "text"),
					Column("profile.displayName", "display_name", "text"),
					Column("createdAt", "created_at", "timestamp with time zone", "date"),
					Reference("referredBy", "referred_by_id", "users"),
					Column("points", "points", "bigint", "long"),
					Column("tags", "tags", "jsonb")};
	CollectionMap payments;
	payments.collection = payments.table = "payments";
	FieldMap polymorphic;
	polymorphic.kind = FieldKind::Polymorphic;
	polymorphic.path = "purchaseRequestId";
	polymorphic.column = "purchase_request";
	polymorphic.references = "purchase_requests";
	FieldMap items;
	items.kind = FieldKind::ChildTable;
	items.path = "items";
	items.child = 0;
	FieldMap offers;
	offers.kind = FieldKind::ChildTable;
	offers.path = "offerIds";
	offers.child = 1;
	payments.fields = {Reference("buyerId", "buyer_id", "users"),
					   polymorphic,
					   Column("amount.value", "amount", "numeric(38,18)", "decimal"),
					   Column("status", "status", "text"),
					   items,
					   offers};
	ChildMap item_table;
	item_table.table = "payment_items";
	item_table.parent_column = "payment_id";
	item_table.fields = {Column("sku", "sku", "text"), Column("qty", "qty", "integer")};
	ChildMap offer_table;
	offer_table.table = "payment_offers";
	offer_table.extra_column = "";
	offer_table.fields = {Reference("", "offer_id", "offers")};
	payments.children = {item_table, offer_table};
	mapping.collections = {users, payments};
	return mapping;
}

// IdMap answers from a fixed id_map.
LegacyIdOf
IdMap() {
	static const std::map<std::pair<std::string, std::string>, std::string> ids = {
		{{"users", kUserUuid}, kUser},
		{{"users", kReferrerUuid}, kReferrer},
		{{"purchase_requests", kRequestUuid}, kRequest},
		{{"offers", kOfferUuid}, kOffer},
		{{"templates", "x"}, "tpl-1"},
	};
	return [](const std::string &collection, const std::string &uuid) -> std::optional<std::string> {
		auto found = ids.find({collection, uuid});
		if (found == ids.end())
			return std::nullopt;
		return found->second;
	};
}

std::string
Json(const bson_t *doc) {
	return BsonToRelaxedJson(doc);
}

// TypeAt returns the BSON type at a dotted path of doc.
bson_type_t
TypeAt(const bson_t *doc, const char *path) {
	bson_iter_t iter, found;
	if (!bson_iter_init(&iter, doc) || !bson_iter_find_descendant(&iter, path, &found))
		return BSON_TYPE_EOD;
	return bson_iter_type(&found);
}

TEST(MongoMappedReverse, UserDocumentInLegacyShape) {
	Mapping mapping = ShopMapping();
	Row row = {
		{"id", Value(std::string_view(kUserUuid)), "uuid"},
		{"legacy_object_id", Value(std::string_view(kUser)), "text"},
		{"email", Value(std::string_view("ada@example.com")), "text"},
		{"display_name", Value(std::string_view("Ada")), "text"},
		{"created_at", Value(std::string_view("2024-03-01T10:00:00.123+00:00")), "timestamp with time zone"},
		{"referred_by_id", Value(std::string_view(kReferrerUuid)), "uuid"},
		{"points", Value(std::int64_t{7}), "bigint"},
		{"tags", Value(std::string_view("[\"a\", \"b\"]")), "jsonb"},
		{"extra", Value(std::string_view(R"({"profile": {"avatar": "x.png"}, "referralCode": "R1", "n": 3})")),
		 "jsonb"},
	};
	MappingNotes notes;
	sidecar::BsonHandle doc = ReverseDocument(mapping.collections[0], row, {}, IdMap(), notes);
	EXPECT_TRUE(notes.empty()) << notes[0].what;
	EXPECT_EQ(
		Json(doc.get()),
		"{ \"_id\" : { \"$oid\" : \"65f1a2b3c4d5e6f708192a3b\" }, \"email\" : \"ada@example.com\", \"profile\" "
		": { \"displayName\" : \"Ada\", \"avatar\" : \"x.png\" }, \"createdAt\" : { \"$date\" : "
		"\"2024-03-01T10:00:00.123Z\" }, \"referredBy\" : { \"$oid\" : \"65f1a2b3c4d5e6f708192a3c\" }, \"points\" "
		": 7, \"tags\" : [ \"a\", \"b\" ], \"referralCode\" : \"R1\", \"n\" : 3 }");
	EXPECT_EQ(TypeAt(doc.get(), "points"), BSON_TYPE_INT64);
	EXPECT_EQ(TypeAt(doc.get(), "createdAt"), BSON_TYPE_DATE_TIME);
	EXPECT_EQ(TypeAt(doc.get(), "n"), BSON_TYPE_INT32);
}

TEST(MongoMappedReverse, NullColumnsWriteNoFieldAndLegacyColumnsAreNotFields) {
	Mapping mapping = ShopMapping();
	Row row = {
		{"id", Value(std::string_view(kUserUuid)), "uuid"},
		{"legacy_object_id", Value(std::string_view(kUser)), "text"},
		{"email", Value(), "text"},
		{"display_name", Value(), "text"},
		{"created_at", Value(std::string_view("2024-03-01T10:00:00+00:00")), "timestamp with time zone"},
		{"referred_by_id", Value(), "uuid"},
		{"points", Value(), "bigint"},
		{"tags", Value(), "jsonb"},
		{"extra", Value(std::string_view("{}")), "jsonb"},
	};
	MappingNotes notes;
	sidecar::BsonHandle doc = ReverseDocument(mapping.collections[0], row, {}, IdMap(), notes);
	EXPECT_EQ(Json(doc.get()), "{ \"_id\" : { \"$oid\" : \"65f1a2b3c4d5e6f708192a3b\" }, \"createdAt\" : { \"$date\" "
							   ": \"2024-03-01T10:00:00Z\" } }");
}

TEST(MongoMappedReverse, StringLegacyIdsStayStrings) {
	Mapping mapping = ShopMapping();
	Row row = {{"id", Value(std::string_view(kUserUuid)), "uuid"},
			   {"legacy_object_id", Value(std::string_view("user-42")), "text"}};
	MappingNotes notes;
	sidecar::BsonHandle doc = ReverseDocument(mapping.collections[0], row, {}, IdMap(), notes);
	EXPECT_EQ(Json(doc.get()), "{ \"_id\" : \"user-42\" }");
}

TEST(MongoMappedReverse, LegacyIdFromIdMapWhenTheRowHasOnlyItsKey) {
	Mapping mapping = ShopMapping();
	Row old_image = {{"id", Value(std::string_view(kUserUuid)), "uuid"}};
	EXPECT_EQ(ReverseLegacyId(mapping.collections[0], old_image, IdMap()), std::optional<std::string>(kUser));
	Row unknown = {{"id", Value(std::string_view("0190f1a2-b3c4-7d5e-8f70-000000000000")), "uuid"}};
	EXPECT_EQ(ReverseLegacyId(mapping.collections[0], unknown, IdMap()), std::nullopt);
	MappingNotes notes;
	EXPECT_THROW(ReverseDocument(mapping.collections[0], unknown, {}, IdMap(), notes), std::runtime_error);
}

Row
PaymentRow(const char *kind, const char *poly_id, const char *external, const char *amount) {
	auto text = [](const char *value) { return value == nullptr ? Value() : Value(std::string_view(value)); };
	return {
		{"id", Value(std::string_view("0190f1a2-b3c4-7d5e-8f70-8192a3b00009")), "uuid"},
		{"legacy_object_id", Value(std::string_view("65f1a2b3c4d5e6f708192a40")), "text"},
		{"buyer_id", Value(std::string_view(kUserUuid)), "uuid"},
		{"purchase_request_ref_kind", text(kind), "text"},
		{"purchase_request_id", text(poly_id), "uuid"},
		{"purchase_request_external_ref", text(external), "text"},
		{"amount", text(amount), "numeric(38,18)"},
		{"status", Value(std::string_view("pending")), "text"},
		{"extra", Value(std::string_view(R"({"amount": {"currency": "EUR"}, "metadata": {"k": [1, 2]}})")), "jsonb"},
	};
}

TEST(MongoMappedReverse, PaymentWithPolymorphicEntityDecimalAndChildArrays) {
	Mapping mapping = ShopMapping();
	Row payment = PaymentRow("entity", kRequestUuid, nullptr, "12.500000000000000000");
	std::vector<std::vector<Row>> children(2);
	children[0] = {
		{{"payment_id", Value(std::string_view("p")), "uuid"},
		 {"position", Value(std::int64_t{0}), "integer"},
		 {"sku", Value(std::string_view("A-1")), "text"},
		 {"qty", Value(std::int64_t{2}), "integer"},
		 {"extra", Value(std::string_view(R"({"note": "gift"})")), "jsonb"}},
		{{"payment_id", Value(std::string_view("p")), "uuid"},
		 {"position", Value(std::int64_t{1}), "integer"},
		 {"sku", Value(std::string_view("B-2")), "text"},
		 {"qty", Value(), "integer"},
		 {"extra", Value(std::string_view("{}")), "jsonb"}},
	};
	children[1] = {{{"payment_id", Value(std::string_view("p")), "uuid"},
					{"position", Value(std::int64_t{0}), "integer"},
					{"offer_id", Value(std::string_view(kOfferUuid)), "uuid"}}};
	MappingNotes notes;
	sidecar::BsonHandle doc = ReverseDocument(mapping.collections[1], payment, children, IdMap(), notes);
	EXPECT_TRUE(notes.empty()) << notes[0].what;
	EXPECT_EQ(
		Json(doc.get()),
		"{ \"_id\" : { \"$oid\" : \"65f1a2b3c4d5e6f708192a40\" }, \"buyerId\" : { \"$oid\" : "
		"\"65f1a2b3c4d5e6f708192a3b\" }, \"purchaseRequestId\" : { \"$oid\" : \"65f1a2b3c4d5e6f708192a3d\" }, "
		"\"amount\" : { \"value\" : { \"$numberDecimal\" : \"12.500000000000000000\" }, \"currency\" : \"EUR\" }, "
		"\"status\" : \"pending\", \"items\" : [ { \"sku\" : \"A-1\", \"qty\" : 2, \"note\" : \"gift\" }, { "
		"\"sku\" : \"B-2\" } ], \"offerIds\" : [ { \"$oid\" : \"65f1a2b3c4d5e6f708192a3e\" } ], \"metadata\" : "
		"{ \"k\" : [ 1, 2 ] } }");
	EXPECT_EQ(TypeAt(doc.get(), "amount.value"), BSON_TYPE_DECIMAL128);
	EXPECT_EQ(TypeAt(doc.get(), "items.0.qty"), BSON_TYPE_INT32);
}

TEST(MongoMappedReverse, PolymorphicTemplateAndNothing) {
	Mapping mapping = ShopMapping();
	MappingNotes notes;
	sidecar::BsonHandle templated = ReverseDocument(
		mapping.collections[1], PaymentRow("template", nullptr, "template:gold", "1"), {}, IdMap(), notes);
	bson_iter_t iter;
	ASSERT_TRUE(bson_iter_init_find(&iter, templated.get(), "purchaseRequestId"));
	ASSERT_TRUE(BSON_ITER_HOLDS_UTF8(&iter));
	EXPECT_STREQ(bson_iter_utf8(&iter, nullptr), "template:gold");
	sidecar::BsonHandle none =
		ReverseDocument(mapping.collections[1], PaymentRow(nullptr, nullptr, nullptr, "1"), {}, IdMap(), notes);
	EXPECT_FALSE(bson_iter_init_find(&iter, none.get(), "purchaseRequestId"));
	// no child rows given: the arrays are left out (the sink gives them when it writes a whole document)
	EXPECT_FALSE(bson_iter_init_find(&iter, none.get(), "items"));
	EXPECT_TRUE(notes.empty());
}

TEST(MongoMappedReverse, BsonTypesOverrideThePostgresType) {
	Mapping mapping = ShopMapping();
	CollectionMap &payments = mapping.collections[1];
	payments.fields[2].bson_type = "double";
	MappingNotes notes;
	sidecar::BsonHandle doc =
		ReverseDocument(payments, PaymentRow(nullptr, nullptr, nullptr, "12.250000000000000000"), {}, IdMap(), notes);
	EXPECT_EQ(TypeAt(doc.get(), "amount.value"), BSON_TYPE_DOUBLE);
	bson_iter_t iter, found;
	ASSERT_TRUE(bson_iter_init(&iter, doc.get()) && bson_iter_find_descendant(&iter, "amount.value", &found));
	EXPECT_EQ(bson_iter_double(&found), 12.25);

	CollectionMap &users = mapping.collections[0];
	users.fields[0].bson_type = "objectId"; // a text column holding legacy ObjectIds as hex
	users.fields[4].bson_type = "int";
	Row row = {{"legacy_object_id", Value(std::string_view(kUser)), "text"},
			   {"email", Value(std::string_view(kOffer)), "text"},
			   {"points", Value(std::int64_t{5}), "bigint"}};
	sidecar::BsonHandle user = ReverseDocument(users, row, {}, IdMap(), notes);
	EXPECT_EQ(TypeAt(user.get(), "email"), BSON_TYPE_OID);
	EXPECT_EQ(TypeAt(user.get(), "points"), BSON_TYPE_INT32);
	EXPECT_TRUE(notes.empty());

	// a value the bson type cannot hold: written by its PostgreSQL type, and noted
	Row bad = {{"legacy_object_id", Value(std::string_view(kUser)), "text"},
			   {"email", Value(std::string_view("not-an-oid")), "text"}};
	sidecar::BsonHandle fallback = ReverseDocument(users, bad, {}, IdMap(), notes);
	EXPECT_EQ(TypeAt(fallback.get(), "email"), BSON_TYPE_UTF8);
	ASSERT_EQ(notes.size(), 1U);
	EXPECT_EQ(notes[0].column, "email");
}

TEST(MongoMappedReverse, UnknownReferenceIsWrittenAsUuidAndNoted) {
	Mapping mapping = ShopMapping();
	Row row = {{"legacy_object_id", Value(std::string_view(kUser)), "text"},
			   {"referred_by_id", Value(std::string_view("0190f1a2-b3c4-7d5e-8f70-00000000abcd")), "uuid"}};
	MappingNotes notes;
	sidecar::BsonHandle doc = ReverseDocument(mapping.collections[0], row, {}, IdMap(), notes);
	EXPECT_EQ(TypeAt(doc.get(), "referredBy"), BSON_TYPE_BINARY);
	ASSERT_EQ(notes.size(), 1U);
	EXPECT_NE(notes[0].what.find("no legacy id"), std::string::npos);
}

TEST(MongoMappedReverse, TablesOfTheMapping) {
	Mapping mapping = ShopMapping();
	EXPECT_EQ(FindCollectionTable(mapping, "payments"), &mapping.collections[1]);
	EXPECT_EQ(FindCollectionTable(mapping, "payment_items"), nullptr);
	ChildOf child = FindChildTable(mapping, "payment_offers");
	EXPECT_EQ(child.collection, &mapping.collections[1]);
	EXPECT_EQ(child.index, 1U);
	EXPECT_EQ(ChildPath(*child.collection, child.index), "offerIds");
	EXPECT_EQ(FindChildTable(mapping, "chats").collection, nullptr);
}

TEST(MongoMappedReverse, ArrayOfChildRows) {
	Mapping mapping = ShopMapping();
	sidecar::BsonHandle doc = sidecar::NewBson();
	MappingNotes notes;
	std::vector<Row> rows = {{{"offer_id", Value(std::string_view(kOfferUuid)), "uuid"}},
							 {{"offer_id", Value(), "uuid"}}};
	AppendReverseArray(doc.get(), "offerIds", mapping.collections[1].children[1], rows, IdMap(), notes);
	EXPECT_EQ(Json(doc.get()), "{ \"offerIds\" : [ { \"$oid\" : \"65f1a2b3c4d5e6f708192a3e\" }, null ] }");
}

} // namespace
} // namespace mosta::mapping
