/*
 * schema_test.cpp
 *     The schema document: a round trip keeps every field; bad documents are refused naming the field; tables sort
 *     in foreign-key order.
 */
#include <gtest/gtest.h>

#include "model/schema.hpp"

namespace mosta::copy {
namespace {

DatabaseSchema
Sample() {
	DatabaseSchema schema;
	TypeDef mood{"public", "mood", "enum", {"sad", "happy"}, "", false, "", {}, ""};
	TypeDef qty{"public", "qty", "domain", {}, "integer", true, "0", {"CONSTRAINT qty_check CHECK ((VALUE >= 0))"}, ""};
	schema.types = {mood, qty};
	SequenceDef seq;
	seq.schema = "public";
	seq.name = "orders_id_seq";
	seq.last_value = 42;
	seq.is_called = true;
	seq.owned_by_table = "public.orders";
	seq.owned_by_column = "id";
	schema.sequences = {seq};
	TableDef orders;
	orders.schema = "public";
	orders.name = "orders";
	orders.columns = {{"id", "integer", "integer", true, "nextval('orders_id_seq'::regclass)", "", '\0', ""},
					  {"q", "public.qty", "integer", false, "", "", '\0', ""},
					  {"note \"x\"", "text", "text", false, "", "", '\0', "pg_catalog.\"C\""},
					  {"twice", "integer", "integer", false, "", "(q * 2)", '\0', ""}};
	orders.primary_key = {"id"};
	orders.references = {"public.customers"};
	orders.foreign_keys = {"ALTER TABLE ONLY public.orders ADD CONSTRAINT f FOREIGN KEY (id) REFERENCES "
						   "public.customers(id);"};
	orders.estimated_rows = 10;
	TableDef customers;
	customers.schema = "public";
	customers.name = "customers";
	customers.columns = {{"id", "bigint", "bigint", true, "", "", 'a', ""}};
	customers.partition_key = "RANGE (id)";
	customers.partitions = {{"public", "customers_1", "public", "customers", "FOR VALUES FROM (1) TO (10)", ""}};
	schema.tables = {orders, customers};
	return schema;
}

TEST(Schema, RoundTripKeepsEveryField) {
	DatabaseSchema schema = Sample();
	SnapshotInfo snapshot{"0/16B3748", "2026-12-07T02:00:00+00:00", "postgresql://u:***@h/db", "15.19", "UTF8", true};
	std::string json = SchemaToJson(schema, snapshot);
	SnapshotInfo read_snapshot;
	DatabaseSchema back = SchemaFromJson(json, &read_snapshot);
	EXPECT_EQ(SchemaToJson(back, read_snapshot), json);
	EXPECT_EQ(read_snapshot.lsn, "0/16B3748");
	ASSERT_EQ(back.tables.size(), 2u);
	EXPECT_EQ(back.tables[0].columns[2].name, "note \"x\"");
	EXPECT_EQ(back.tables[0].columns[2].collation, "pg_catalog.\"C\"");
	EXPECT_EQ(back.tables[0].columns[3].generated, "(q * 2)");
	EXPECT_EQ(back.tables[1].columns[0].identity, 'a');
	EXPECT_EQ(back.tables[0].CopiedColumns(), (std::vector<std::size_t>{0, 1, 2}));
	EXPECT_EQ(back.types[1].checks.size(), 1u);
	EXPECT_EQ(back.sequences[0].last_value, 42);
	EXPECT_EQ(back.tables[1].partitions[0].bound, "FOR VALUES FROM (1) TO (10)");
	EXPECT_EQ(TableFromJson(TableToJson(back.tables[0])).columns.size(), 4u);
}

TEST(Schema, RefusesBadDocumentsNamingTheField) {
	EXPECT_THROW(SchemaFromJson("{\"tables\":[]}"), SchemaError);
	EXPECT_THROW(SchemaFromJson("{\"version\":99}"), SchemaError);
	EXPECT_THROW(SchemaFromJson("not json"), SchemaError);
	try {
		SchemaFromJson(R"({"version":1,"tables":[{"schema":"s","name":"t","columns":[{"name":"a","type":7}]}]})");
		FAIL();
	} catch (const SchemaError &e) {
		EXPECT_NE(std::string(e.what()).find("tables[0].columns[0].type"), std::string::npos) << e.what();
	}
	try {
		SchemaFromJson(R"({"version":1,"tables":[{"schema":"s","name":"t","primary_key":["x"]}]})");
		FAIL();
	} catch (const SchemaError &e) {
		EXPECT_NE(std::string(e.what()).find("\"x\" is not a column"), std::string::npos) << e.what();
	}
}

TEST(Schema, SortsReferencedTablesFirst) {
	DatabaseSchema schema = Sample();
	SortByForeignKeys(schema.tables);
	EXPECT_EQ(schema.tables[0].name, "customers");
	EXPECT_EQ(schema.tables[1].name, "orders");
	// a cycle keeps both tables, once each
	schema.tables[0].references = {"public.orders"};
	SortByForeignKeys(schema.tables);
	EXPECT_EQ(schema.tables.size(), 2u);
}

} // namespace
} // namespace mosta::copy
