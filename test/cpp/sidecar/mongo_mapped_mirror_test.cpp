/*
 * mongo_mapped_mirror_test.cpp
 *     The mapped mirror's planning (sink/mongo_mapped.hpp), without a server: which legacy collection, _id and write
 *     each change becomes (whole documents with their child arrays, child rows as $set of the rebuilt array,
 *     deletes through id_map, truncates, tables the mapping does not know), and the URI's mosta_mapping option.
 */
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "decode/change.hpp"
#include "sink/mongo_mapped.hpp"
#include "sink/mongo_sink.hpp"

namespace mosta::sidecar {
namespace {

constexpr const char *kPayment = "65f1a2b3c4d5e6f708192a40";
constexpr const char *kPaymentUuid = "0190f1a2-b3c4-7d5e-8f70-8192a3b00009";
constexpr const char *kUser = "65f1a2b3c4d5e6f708192a3b";
constexpr const char *kUserUuid = "0190f1a2-b3c4-7d5e-8f70-8192a3b00001";

mapping::FieldMap
Column(std::string path, std::string column, std::string type, std::string bson = "") {
	mapping::FieldMap field;
	field.path = std::move(path);
	field.column = std::move(column);
	field.type = std::move(type);
	field.bson_type = std::move(bson);
	return field;
}

// A mapping of payments (items child table) and users.
mapping::Mapping
Shop() {
	mapping::Mapping shop;
	shop.name = "shop";
	shop.file = "/etc/mosta/shop.mapping.json";
	mapping::CollectionMap users;
	users.collection = users.table = "users";
	users.fields = {Column("email", "email", "text")};
	mapping::CollectionMap payments;
	payments.collection = "payments";
	payments.table = "payments";
	mapping::FieldMap buyer = Column("buyerId", "buyer_id", "uuid");
	buyer.kind = mapping::FieldKind::Reference;
	buyer.references = "users";
	mapping::FieldMap items;
	items.kind = mapping::FieldKind::ChildTable;
	items.path = "items";
	payments.fields = {buyer, Column("amount.value", "amount", "numeric(38,18)", "decimal"),
					   Column("status", "status", "text"), items};
	mapping::ChildMap item_table;
	item_table.table = "payment_items";
	item_table.parent_column = "payment_id";
	item_table.fields = {Column("sku", "sku", "text")};
	payments.children = {item_table};
	shop.collections = {users, payments};
	return shop;
}

// Fake is what the source would answer: id_map, and the child rows of one payment.
struct Fake {
	std::map<std::pair<std::string, std::string>, std::string> id_map = {{{"users", kUserUuid}, kUser},
																		 {{"payments", kPaymentUuid}, kPayment}};
	std::vector<std::string> skus = {"A-1", "B-2"};
	int child_reads = 0;

	MirrorSource
	Source() {
		MirrorSource source;
		source.legacy_id_of = [this](const std::string &collection,
									 const std::string &uuid) -> std::optional<std::string> {
			auto found = id_map.find({collection, uuid});
			return found == id_map.end() ? std::nullopt : std::optional<std::string>(found->second);
		};
		source.child_rows = [this](const mapping::CollectionMap &, std::size_t, const std::string &uuid) {
			++child_reads;
			MirrorRows rows;
			rows.columns = {{"payment_id", "uuid"}, {"position", "integer"}, {"sku", "text"}, {"extra", "jsonb"}};
			for (std::size_t i = 0; i < skus.size(); ++i) {
				const std::string &sku = rows.texts.emplace_back(skus[i]);
				const std::string &parent = rows.texts.emplace_back(uuid);
				rows.rows.push_back({{rows.columns[0].name, Value(std::string_view(parent)), "uuid"},
									 {rows.columns[1].name, Value(static_cast<std::int64_t>(i)), "integer"},
									 {rows.columns[2].name, Value(std::string_view(sku)), "text"},
									 {rows.columns[3].name, Value(std::string_view("{}")), "jsonb"}});
			}
			return rows;
		};
		source.collection_row = [](const mapping::CollectionMap &, const std::string &) { return MirrorRows(); };
		return source;
	}
};

std::string
Json(const BsonHandle &doc) {
	return BsonToRelaxedJson(doc.get());
}

TEST(MongoMappedMirror, PaymentInsertIsTheWholeLegacyDocumentWithItsArray) {
	Fake fake;
	MongoMappedMirror mirror(Shop(), fake.Source());
	ParsedChange change = ParseChange(
		R"({"op":"insert","schema":"public","table":"payments","key":["id"],"new":{"id":"0190f1a2-b3c4-7d5e-8f70-8192a3b00009",)"
		R"("legacy_object_id":"65f1a2b3c4d5e6f708192a40","buyer_id":"0190f1a2-b3c4-7d5e-8f70-8192a3b00001","amount":"9.50",)"
		R"("status":"paid","extra":"{\"note\": \"n\"}"},"types":{"id":"uuid","legacy_object_id":"text","buyer_id":"uuid",)"
		R"js("amount":"numeric(38,18)","status":"text","extra":"jsonb"}})js");
	MappingNotes notes;
	std::vector<MappedWrite> writes = mirror.Plan(change, notes);
	ASSERT_EQ(writes.size(), 1U);
	EXPECT_EQ(writes[0].kind, MappedWrite::Kind::Replace);
	EXPECT_EQ(writes[0].collection, "payments");
	EXPECT_EQ(Json(writes[0].filter), R"({ "_id" : { "$oid" : "65f1a2b3c4d5e6f708192a40" } })");
	EXPECT_EQ(
		Json(writes[0].document),
		R"({ "_id" : { "$oid" : "65f1a2b3c4d5e6f708192a40" }, "buyerId" : { "$oid" : "65f1a2b3c4d5e6f708192a3b" }, )"
		R"("amount" : { "value" : { "$numberDecimal" : "9.50" } }, "status" : "paid", "items" : [ { "sku" : "A-1" }, )"
		R"({ "sku" : "B-2" } ], "note" : "n" })");
	EXPECT_TRUE(notes.empty());
}

TEST(MongoMappedMirror, ChildRowRewritesTheParentArray) {
	Fake fake;
	MongoMappedMirror mirror(Shop(), fake.Source());
	ParsedChange change = ParseChange(
		R"({"op":"insert","schema":"public","table":"payment_items","key":["payment_id","position"],)"
		R"("new":{"payment_id":"0190f1a2-b3c4-7d5e-8f70-8192a3b00009","position":1,"sku":"B-2","extra":"{}"},)"
		R"("types":{"payment_id":"uuid","position":"integer","sku":"text","extra":"jsonb"}})");
	MappingNotes notes;
	std::vector<MappedWrite> writes = mirror.Plan(change, notes);
	ASSERT_EQ(writes.size(), 1U);
	EXPECT_EQ(writes[0].kind, MappedWrite::Kind::Update);
	EXPECT_EQ(writes[0].collection, "payments");
	EXPECT_EQ(Json(writes[0].filter), R"({ "_id" : { "$oid" : "65f1a2b3c4d5e6f708192a40" } })");
	EXPECT_EQ(Json(writes[0].document), R"({ "$set" : { "items" : [ { "sku" : "A-1" }, { "sku" : "B-2" } ] } })");

	// a delete (old image: the key) rewrites it from what is left
	fake.skus = {"A-1"};
	ParsedChange deleted =
		ParseChange(R"({"op":"delete","schema":"public","table":"payment_items","key":["payment_id","position"],)"
					R"("old":{"payment_id":"0190f1a2-b3c4-7d5e-8f70-8192a3b00009","position":1},)"
					R"("types":{"payment_id":"uuid","position":"integer"}})");
	mirror.StartTransaction(); // another transaction
	writes = mirror.Plan(deleted, notes);
	ASSERT_EQ(writes.size(), 1U);
	EXPECT_EQ(Json(writes[0].document), R"({ "$set" : { "items" : [ { "sku" : "A-1" } ] } })");

	// a delete whose parent is unknown to id_map (gone with it): nothing to write
	ParsedChange orphan =
		ParseChange(R"({"op":"delete","schema":"public","table":"payment_items","key":["payment_id","position"],)"
					R"("old":{"payment_id":"0190f1a2-b3c4-7d5e-8f70-00000000dead","position":0},)"
					R"("types":{"payment_id":"uuid","position":"integer"}})");
	EXPECT_TRUE(mirror.Plan(orphan, notes).empty());
}

TEST(MongoMappedMirror, RowsOfOneParentInOneTransactionReadTheArrayOnce) {
	Fake fake;
	MongoMappedMirror mirror(Shop(), fake.Source());
	auto item = [](int position) {
		return ParseChange(
			R"({"op":"insert","schema":"public","table":"payment_items","key":["payment_id","position"],"new":{)"
			R"("payment_id":"0190f1a2-b3c4-7d5e-8f70-8192a3b00009","position":)" +
			std::to_string(position) +
			R"(,"sku":"x","extra":"{}"},"types":{"payment_id":"uuid","position":"integer"}})");
	};
	MappingNotes notes;
	mirror.StartTransaction();
	EXPECT_EQ(mirror.Plan(item(0), notes).size(), 1U);
	EXPECT_TRUE(mirror.Plan(item(1), notes).empty()); // the array just written holds it: read after the commit
	EXPECT_EQ(fake.child_reads, 1);
	mirror.StartTransaction(); // a later transaction may have changed the array since: read again
	EXPECT_EQ(mirror.Plan(item(2), notes).size(), 1U);
	EXPECT_EQ(fake.child_reads, 2);
}

TEST(MongoMappedMirror, DeleteWithTheKeyOnlyFindsTheLegacyIdInIdMap) {
	Fake fake;
	MongoMappedMirror mirror(Shop(), fake.Source());
	ParsedChange change = ParseChange(R"({"op":"delete","schema":"public","table":"users","key":["id"],)"
									  R"("old":{"id":"0190f1a2-b3c4-7d5e-8f70-8192a3b00001"},"types":{"id":"uuid"}})");
	MappingNotes notes;
	std::vector<MappedWrite> writes = mirror.Plan(change, notes);
	ASSERT_EQ(writes.size(), 1U);
	EXPECT_EQ(writes[0].kind, MappedWrite::Kind::Delete);
	EXPECT_EQ(writes[0].collection, "users");
	EXPECT_EQ(Json(writes[0].filter), R"({ "_id" : { "$oid" : "65f1a2b3c4d5e6f708192a3b" } })");

	ParsedChange unknown = ParseChange(R"({"op":"delete","schema":"public","table":"users","key":["id"],)"
									   R"("old":{"id":"0190f1a2-b3c4-7d5e-8f70-00000000beef"},"types":{"id":"uuid"}})");
	EXPECT_THROW(mirror.Plan(unknown, notes), std::runtime_error);
}

TEST(MongoMappedMirror, TablesOutsideTheMappingAreRefusedByName) {
	Fake fake;
	MongoMappedMirror mirror(Shop(), fake.Source());
	ParsedChange change = ParseChange(R"({"op":"insert","schema":"public","table":"audit_log","key":["id"],)"
									  R"("new":{"id":1},"types":{"id":"integer"}})");
	MappingNotes notes;
	try {
		mirror.Plan(change, notes);
		FAIL() << "no error";
	} catch (const std::runtime_error &e) {
		EXPECT_NE(
			std::string(e.what()).find("public.audit_log is not in the mapping shop (/etc/mosta/shop.mapping.json)"),
			std::string::npos)
			<< e.what();
	}
	ParsedChange other_schema = ParseChange(R"({"op":"insert","schema":"s2","table":"users","key":["id"],)"
											R"("new":{"id":1},"types":{"id":"integer"}})");
	EXPECT_THROW(mirror.Plan(other_schema, notes), std::runtime_error);
}

TEST(MongoMappedMirror, Truncates) {
	Fake fake;
	MongoMappedMirror mirror(Shop(), fake.Source());
	ParsedChange change = ParseChange(R"({"op":"truncate","tables":[{"schema":"public","table":"payments"},)"
									  R"({"schema":"public","table":"payment_items"}]})");
	MappingNotes notes;
	std::vector<MappedWrite> writes = mirror.Plan(change, notes);
	ASSERT_EQ(writes.size(), 2U);
	EXPECT_EQ(writes[0].kind, MappedWrite::Kind::DeleteMany);
	EXPECT_EQ(writes[0].collection, "payments");
	EXPECT_EQ(writes[1].kind, MappedWrite::Kind::UpdateMany);
	EXPECT_EQ(Json(writes[1].document), R"({ "$set" : { "items" : [  ] } })");
}

TEST(MongoMappedMirror, MappingOptionOfTheUri) {
	MappedUri plain = SplitMappingOption("mongodb://h:27017/shop?w=1");
	EXPECT_EQ(plain.uri, "mongodb://h:27017/shop?w=1");
	EXPECT_EQ(plain.mapping_path, "");
	MappedUri mapped = SplitMappingOption("mongodb://u:p@h:27017/shop?w=1&mosta_mapping=/etc/mosta/shop%20a.json&"
										  "journal=true");
	EXPECT_EQ(mapped.uri, "mongodb://u:p@h:27017/shop?w=1&journal=true");
	EXPECT_EQ(mapped.mapping_path, "/etc/mosta/shop a.json");
	MappedUri alone = SplitMappingOption("mongodb://h/shop?mosta_mapping=m.json");
	EXPECT_EQ(alone.uri, "mongodb://h/shop");
	EXPECT_EQ(alone.mapping_path, "m.json");
	EXPECT_THROW(SplitMappingOption("mongodb://h/shop?mosta_mapping="), std::invalid_argument);
	EXPECT_THROW(SplitMappingOption("mongodb://h/shop?mosta_mapping=a%2"), std::invalid_argument);
	EXPECT_THROW(SplitMappingOption("mongodb://h/shop?mosta_mapping=a&mosta_mapping=b"), std::invalid_argument);
}

TEST(MongoMappedMirror, ABadMappingFailsTheTargetWithTheFileNamed) {
	MongoDriver driver;
	MongoSinkOptions options;
	options.uri = "mongodb://127.0.0.1:1/shop?mosta_mapping=/nonexistent/shop.mapping.json";
	options.slot = "slot";
	try {
		MongoSink sink(options); // the mapping is read before the server is asked anything
		FAIL() << "no error";
	} catch (const std::invalid_argument &e) {
		std::string what = e.what();
		EXPECT_NE(what.find("mosta_mapping"), std::string::npos) << what;
		EXPECT_NE(what.find("/nonexistent/shop.mapping.json"), std::string::npos) << what;
	}
}

} // namespace
} // namespace mosta::sidecar
