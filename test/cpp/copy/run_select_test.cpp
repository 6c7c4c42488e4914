/*
 * run_select_test.cpp
 *     Which tables a copy takes (run/table_select): --tables and --exclude globs against schema.table and the
 *     bare name, the ORM's entities.json in its accepted forms, and the errors naming what is missing.
 */
#include <gtest/gtest.h>

#include <fstream>

#include "run/options.hpp"
#include "run/table_select.hpp"
#include "run_fakes.hpp"

namespace mosta::copy {
namespace {

using testing::MakeTable;

DatabaseSchema
Sample() {
	DatabaseSchema schema;
	schema.tables = {MakeTable("app", "users", {"id"}), MakeTable("app", "orders", {"id"}),
					 MakeTable("app", "log_2024", {"id"}), MakeTable("public", "users", {"id"}),
					 MakeTable("zoo", "t1", {"id"})};
	schema.tables[1].columns[0].default_expr = "nextval('app.orders_seq'::regclass)";
	SequenceDef owned;
	owned.schema = "app";
	owned.name = "users_id_seq";
	owned.owned_by_table = "app.users";
	SequenceDef shared;
	shared.schema = "app";
	shared.name = "orders_seq";
	SequenceDef other;
	other.schema = "zoo";
	other.name = "zoo_seq";
	other.owned_by_table = "zoo.t1";
	schema.sequences = {owned, shared, other};
	TypeDef mood{"app", "mood", "enum", {"sad"}, "", false, "", {}, ""};
	schema.types = {mood};
	return schema;
}

std::vector<std::string>
Names(const DatabaseSchema &schema) {
	std::vector<std::string> names;
	for (const TableDef &table : schema.tables)
		names.push_back(table.QualifiedName());
	return names;
}

std::vector<std::string>
Sequences(const DatabaseSchema &schema) {
	std::vector<std::string> names;
	for (const SequenceDef &sequence : schema.sequences)
		names.push_back(sequence.name);
	return names;
}

TEST(RunSelect, NothingFilteredTakesEverything) {
	DatabaseSchema all = Sample();
	DatabaseSchema selected = SelectTables(all, {});
	EXPECT_EQ(Names(selected), Names(all));
	EXPECT_EQ(selected.sequences.size(), 3U);
}

TEST(RunSelect, GlobsAndExcludes) {
	DatabaseSchema all = Sample();
	TableSelection selection;
	selection.tables = {"app.*"};
	selection.exclude = {"log_*"};
	DatabaseSchema selected = SelectTables(all, selection);
	EXPECT_EQ(Names(selected), (std::vector<std::string>{"app.users", "app.orders"}));
	// owned by a selected table, or named by a selected default; every type kept
	EXPECT_EQ(Sequences(selected), (std::vector<std::string>{"users_id_seq", "orders_seq"}));
	EXPECT_EQ(selected.types.size(), 1U);

	selection = {};
	selection.tables = {"users"}; // the bare name matches in every schema
	EXPECT_EQ(Names(SelectTables(all, selection)), (std::vector<std::string>{"app.users", "public.users"}));
	selection = {};
	selection.exclude = {"*.users", "zoo.*"};
	EXPECT_EQ(Names(SelectTables(all, selection)), (std::vector<std::string>{"app.orders", "app.log_2024"}));
	selection = {};
	selection.tables = {"app.nosuch*"};
	try {
		SelectTables(all, selection);
		ADD_FAILURE() << "a glob matching nothing was accepted";
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("--tables app.nosuch* matches no table"), std::string::npos) << e.what();
	}
}

TEST(RunSelect, EntitiesForms) {
	std::vector<EntityTable> entities = ReadEntitiesText(R"([
		{"name": "User", "collection": "users", "schema": "app", "fields": {"id": {"type": "number"}}},
		{"name": "Order", "table": "orders"},
		{"name": "t1"},
		"zoo.t1",
		{"name": "X", "collection": null, "table": "log_2024"}
	])",
														 "entities.json");
	ASSERT_EQ(entities.size(), 5U);
	EXPECT_EQ(entities[0].schema, "app");
	EXPECT_EQ(entities[0].name, "users");
	EXPECT_EQ(entities[1].name, "orders");
	EXPECT_EQ(entities[2].name, "t1");
	EXPECT_EQ(entities[3].schema, "zoo");
	EXPECT_EQ(entities[4].name, "log_2024");
	std::vector<EntityTable> wrapped =
		ReadEntitiesText(R"({"version": 2, "entities": [{"collection": "users"}]})", "e.json");
	ASSERT_EQ(wrapped.size(), 1U);
	EXPECT_EQ(wrapped[0].name, "users");

	TableSelection selection;
	selection.use_entities = true;
	selection.entities = {{"", "users"}, {"", "orders"}};
	selection.entities_origin = "--schemas e.json";
	// users is in app and public: public's is taken
	EXPECT_EQ(Names(SelectTables(Sample(), selection)), (std::vector<std::string>{"app.orders", "public.users"}));
	selection.tables = {"zoo.*"}; // --tables adds to the entities
	EXPECT_EQ(Names(SelectTables(Sample(), selection)),
			  (std::vector<std::string>{"app.orders", "public.users", "zoo.t1"}));
}

void
ExpectEntitiesError(const std::string &text, const std::string &part) {
	try {
		ReadEntitiesText(text, "e.json");
		ADD_FAILURE() << "accepted: " << text;
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
		EXPECT_NE(std::string(e.what()).find("e.json"), std::string::npos) << e.what();
	}
}

TEST(RunSelect, EntitiesErrors) {
	ExpectEntitiesError("[{\"fields\": {}}]", "entity 0: names no table");
	ExpectEntitiesError("[{\"collection\": 3}]", "\"collection\" must be a string");
	ExpectEntitiesError("[1]", "entity 0: expected an object");
	ExpectEntitiesError("{\"models\": []}", "no \"entities\" array");
	ExpectEntitiesError("[]", "no entity");
	ExpectEntitiesError("[{\"collection\": \"a\"", "not valid JSON");
	ExpectEntitiesError("\"users\"", "expected a JSON array of entities");

	TableSelection selection;
	selection.use_entities = true;
	selection.entities_origin = "--schemas e.json";
	selection.entities = {{"app", "nosuch"}};
	try {
		SelectTables(Sample(), selection);
		ADD_FAILURE();
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("--schemas e.json: the source has no table app.nosuch"), std::string::npos)
			<< e.what();
	}
	DatabaseSchema ambiguous = Sample();
	ambiguous.tables.push_back(MakeTable("zoo", "orders", {"id"}));
	selection.entities = {{"", "orders"}};
	try {
		SelectTables(ambiguous, selection);
		ADD_FAILURE();
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("app.orders, zoo.orders"), std::string::npos) << e.what();
	}
	try {
		ReadEntitiesFile("/nonexistent/entities.json");
		ADD_FAILURE();
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("--schemas /nonexistent/entities.json"), std::string::npos) << e.what();
	}
}

} // namespace
} // namespace mosta::copy
