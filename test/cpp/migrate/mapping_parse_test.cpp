// mapping_parse_test.cpp: ParseMapping reads spec16's example into the model, applies the defaults, and refuses
// every broken rule with "FILE:LINE:COL: ..." pointing at the offending key or value.
#include <gtest/gtest.h>

#include <string>

#include "mapping/mapping.hpp"
#include "mapping/mapping_names.hpp"
#include "mapping_example.hpp"

namespace mosta::mapping {
namespace {

// ErrorOf returns ParseMapping's error text for text ("" when it parses).
std::string
ErrorOf(const std::string &text) {
	try {
		ParseMapping(text, "m.json");
	} catch (const MappingError &e) {
		return e.what();
	}
	return "";
}

// One collection "users" with the given fields (a JSON array text) and extra collection keys.
std::string
Users(const std::string &fields, const std::string &more = "") {
	return "{\"name\": \"t\", \"collections\": [{\"collection\": \"users\", \"fields\": " + fields + more + "}]}";
}

TEST(MappingParse, ReadsTheExample) {
	Mapping m = ParseMapping(test::kExampleMapping, "shop.json");
	EXPECT_EQ(m.name, "shop");
	EXPECT_EQ(m.file, "shop.json");
	EXPECT_EQ(m.source_database, "shop");
	EXPECT_EQ(m.schema, "public");
	ASSERT_EQ(m.collections.size(), 4u);
	const CollectionMap &users = m.collections[0];
	EXPECT_EQ(users.id_policy, IdPolicy::ObjectId);
	EXPECT_TRUE(users.require_objectid);
	ASSERT_EQ(users.fields.size(), 6u);
	EXPECT_EQ(users.fields[2].type, "timestamp with time zone"); // timestamptz normalised
	EXPECT_TRUE(users.fields[2].not_null);
	EXPECT_EQ(users.fields[2].bson_type, "date");
	EXPECT_EQ(users.fields[3].kind, FieldKind::Reference);
	EXPECT_EQ(users.fields[3].type, "uuid");
	EXPECT_EQ(users.fields[3].references, "users");
	EXPECT_EQ(users.fields[0].at.line, 12);
	EXPECT_EQ(users.fields[0].at.column, 9);
	ASSERT_EQ(users.indexes.size(), 2u);
	EXPECT_EQ(users.indexes[0].kind, IndexMap::Kind::SparseUnique);
	EXPECT_EQ(users.indexes[1].kind, IndexMap::Kind::Plain);

	const CollectionMap &payments = m.collections[1];
	EXPECT_EQ(payments.require_objectid, false);
	EXPECT_EQ(payments.extra_column, "extra");
	EXPECT_EQ(payments.fields[1].kind, FieldKind::Polymorphic);
	EXPECT_EQ(payments.fields[1].column, "purchase_request");
	EXPECT_EQ(payments.fields[2].type, "numeric(38,18)");
	ASSERT_EQ(payments.children.size(), 2u);
	EXPECT_EQ(payments.fields[5].kind, FieldKind::ChildTable);
	EXPECT_EQ(payments.fields[5].child, 0u);
	EXPECT_EQ(payments.fields[6].child, 1u);
	EXPECT_EQ(payments.children[0].parent_column, "payment_id");
	EXPECT_EQ(payments.children[0].fields[1].type, "integer"); // int normalised
	EXPECT_EQ(payments.children[0].extra_column, "extra");
	EXPECT_EQ(payments.children[1].parent_column, "parent_id"); // default
	EXPECT_EQ(payments.children[1].extra_column, "");			// array of scalars: no extra
	EXPECT_EQ(payments.children[1].fields[0].kind, FieldKind::Reference);
	EXPECT_EQ(payments.indexes[0].kind, IndexMap::Kind::PartialUnique);
	EXPECT_EQ(payments.indexes[0].where, "status = 'pending'");
	EXPECT_EQ(payments.indexes[1].kind, IndexMap::Kind::Ttl);
	EXPECT_EQ(payments.indexes[1].ttl, "90 days");
	ASSERT_EQ(payments.sums.size(), 1u);
	EXPECT_EQ(payments.sums[0].group_by, std::vector<std::string>{"status"});

	const CollectionMap &requests = m.collections[2];
	EXPECT_EQ(requests.table, "purchase_requests"); // table defaults to the collection
	EXPECT_EQ(requests.id_column, "id");
	EXPECT_EQ(requests.legacy_id_column, "legacy_object_id");
	EXPECT_EQ(m.collections[3].id_policy, IdPolicy::TimeOrdered);
	ASSERT_EQ(m.counters.size(), 1u);
	EXPECT_EQ(m.counters[0].key_columns, (std::vector<std::string>{"buyer_id", "chain"}));
	EXPECT_EQ(m.Find("offers"), &m.collections[3]);
	EXPECT_EQ(m.Find("nope"), nullptr);
}

TEST(MappingParse, IdPolicyNames) {
	EXPECT_STREQ(IdPolicyName(IdPolicy::Random), "random");
	EXPECT_STREQ(IdPolicyName(IdPolicy::TimeOrdered), "time-ordered");
	EXPECT_STREQ(IdPolicyName(IdPolicy::Deterministic), "deterministic");
	EXPECT_STREQ(IdPolicyName(IdPolicy::ObjectId), "objectid");
}

TEST(MappingParse, MalformedJsonNamesThePlace) {
	std::string error = ErrorOf("{\"name\": \"t\",\n \"collections\": [}\n");
	EXPECT_EQ(error.rfind("m.json:2:", 0), 0u) << error;
	EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
	EXPECT_EQ(ErrorOf("[1]").rfind("m.json:1:1: the mapping must be a JSON object", 0), 0u);
	EXPECT_NE(ErrorOf("{\"name\": \"t\"} x").find("m.json:1:15: the mapping must end with the '}'"), std::string::npos)
		<< ErrorOf("{\"name\": \"t\"} x");
	error = ErrorOf("{\"name\": \"t\",\n  \"name\": \"u\"}");
	EXPECT_EQ(error.rfind("m.json:2:3: key \"name\" appears twice", 0), 0u) << error;
}

TEST(MappingParse, UnknownKeysAreTyposNotDefaults) {
	std::string error = ErrorOf(Users("[{\"path\": \"email\",\n \"colum\": \"email\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("m.json:2:2: unknown key \"colum\" in a field; did you mean \"column\"?"), std::string::npos)
		<< error;
	error = ErrorOf("{\"name\": \"t\", \"collections\": [{\"collection\": \"users\", \"tabel\": \"u\"}]}");
	EXPECT_NE(error.find("m.json:1:55: unknown key \"tabel\" in a collection; did you mean \"table\"?"),
			  std::string::npos)
		<< error;
	error = ErrorOf("{\"name\": \"t\", \"zzzzzz\": 1, \"collections\": [{\"collection\": \"users\"}]}");
	EXPECT_NE(error.find("unknown key \"zzzzzz\" in the mapping; the keys are: name, source"), std::string::npos)
		<< error;
}

TEST(MappingParse, RequiredKeysAndTypes) {
	EXPECT_NE(
		ErrorOf("{\"collections\": [{\"collection\": \"users\"}]}").find("m.json:1:1: the mapping has no \"name\""),
		std::string::npos);
	EXPECT_NE(ErrorOf("{\"name\": \"t\"}").find("has no \"collections\""), std::string::npos);
	EXPECT_NE(ErrorOf("{\"name\": \"t\", \"collections\": []}").find("\"collections\" is empty"), std::string::npos);
	EXPECT_NE(ErrorOf("{\"name\": 3, \"collections\": [{\"collection\": \"users\"}]}")
				  .find("m.json:1:10: \"name\" must be a string, not a number"),
			  std::string::npos);
	EXPECT_NE(ErrorOf("{\"name\": \"t\", \"collections\": [{\"table\": \"users\"}]}").find("has no \"collection\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"column\": \"email\", \"type\": \"text\"}]")).find("has no \"path\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"email\", \"type\": \"text\"}]")).find("has no \"column\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"email\", \"column\": \"email\"}]")).find("has no \"type\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a\", \"type\": \"text\", \"not_null\": \"yes\"}]"))
				  .find("\"not_null\" must be a boolean, not a string"),
			  std::string::npos);
}

TEST(MappingParse, IdPolicyAndBsonTypes) {
	std::string error =
		ErrorOf("{\"name\": \"t\", \"collections\": [{\"collection\": \"users\", \"id\": {\"policy\": \"uuid\"}}]}");
	EXPECT_NE(error.find("m.json:1:72: unknown id policy \"uuid\"; write one of objectid"), std::string::npos) << error;
	error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a\", \"type\": \"text\", \"bson\": \"str\"}]"));
	EXPECT_NE(error.find("unknown bson type \"str\""), std::string::npos) << error;
	error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a\", \"references\": \"users\", \"bson\": \"int\"}]"));
	EXPECT_NE(error.find("a reference holds an ObjectId or a string"), std::string::npos) << error;
}

TEST(MappingParse, ExactlyOneFieldKind) {
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a\", \"references\": \"users\", \"type\": \"text\"}]"))
				  .find("a reference's column is a uuid"),
			  std::string::npos);
	EXPECT_NE(
		ErrorOf(Users("[{\"path\": \"a\", \"polymorphic\": \"a\", \"column\": \"a\", \"references\": \"users\"}]"))
			.find("\"column\" does not go with \"polymorphic\""),
		std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"a\", \"polymorphic\": \"a\"}]")).find("needs \"references\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"a\", \"polymorphic\": \"Bad-Name\", \"references\": \"users\"}]"))
				  .find("polymorphic name \"Bad-Name\" must be 1 to 50"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a\", \"child_table\": {\"table\": \"x\", \"fields\": "
							"[{\"path\": \"b\", \"column\": \"b\", \"type\": \"text\"}]}}]"))
				  .find("\"column\" does not go with \"child_table\""),
			  std::string::npos);
}

TEST(MappingParse, ReferencesNameCollectionsOfTheMapping) {
	std::string error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a_id\", \"references\": \"accounts\"}]"));
	EXPECT_NE(error.find("references \"accounts\", which is not a collection of this mapping; name one of: users"),
			  std::string::npos)
		<< error;
}

TEST(MappingParse, ColumnNamesArePlainAndUnique) {
	std::string error =
		ErrorOf(Users("[{\"path\": \"displayName\", \"column\": \"displayName\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("column name \"displayName\" is not a plain SQL identifier; use lowercase letters, digits "
						 "and _, not starting with a digit, at most 63 bytes, e.g. \"display_name\""),
			  std::string::npos)
		<< error;
	error = ErrorOf(Users("[{\"path\": \"u\", \"column\": \"user\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("reserved word"), std::string::npos) << error;
	error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"x\", \"type\": \"text\"},\n"
						  " {\"path\": \"b\", \"column\": \"x\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("m.json:2:26: column \"x\" appears twice in table \"users\" (first at line 1)"),
			  std::string::npos)
		<< error;
	// the default id, legacy and extra columns count, and so do a polymorphic reference's three
	error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"extra\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("column \"extra\" appears twice"), std::string::npos) << error;
	error = ErrorOf(Users("[{\"path\": \"p\", \"polymorphic\": \"parent\", \"references\": \"users\"},"
						  "{\"path\": \"q\", \"column\": \"parent_id\", \"type\": \"uuid\"}]"));
	EXPECT_NE(error.find("column \"parent_id\" appears twice"), std::string::npos) << error;
}

TEST(MappingParse, PathsAreUniqueAndDoNotOverlap) {
	std::string error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"x\", \"type\": \"text\"},"
									  "{\"path\": \"a\", \"column\": \"y\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("path \"a\" is mapped twice"), std::string::npos) << error;
	error = ErrorOf(Users("[{\"path\": \"amount\", \"column\": \"x\", \"type\": \"jsonb\"},"
						  "{\"path\": \"amount.value\", \"column\": \"y\", \"type\": \"numeric\"}]"));
	EXPECT_NE(error.find("paths \"amount\" and \"amount.value\" overlap"), std::string::npos) << error;
	// a common prefix of characters is not a prefix path
	EXPECT_EQ(ErrorOf(Users("[{\"path\": \"amount\", \"column\": \"x\", \"type\": \"jsonb\"},"
							"{\"path\": \"amountX\", \"column\": \"y\", \"type\": \"numeric\"}]")),
			  "");
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"_id\", \"column\": \"x\", \"type\": \"text\"}]")).find("maps _id"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"a..b\", \"column\": \"x\", \"type\": \"text\"}]")).find("empty part"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users("[{\"path\": \"\", \"column\": \"x\", \"type\": \"text\"}]")).find("empty path"),
			  std::string::npos);
}

TEST(MappingParse, TypesAreNormalisedOrRefused) {
	EXPECT_EQ(NormaliseType("INT"), "integer");
	EXPECT_EQ(NormaliseType("timestamptz"), "timestamp with time zone");
	EXPECT_EQ(NormaliseType("timestamptz(3)"), "timestamp(3) with time zone");
	EXPECT_EQ(NormaliseType("bool"), "boolean");
	EXPECT_EQ(NormaliseType("float8"), "double precision");
	EXPECT_EQ(NormaliseType("numeric( 38 , 18 )"), "numeric(38,18)");
	EXPECT_EQ(NormaliseType("text[]"), "text[]");
	EXPECT_EQ(NormaliseType("int[]"), "integer[]");
	EXPECT_EQ(NormaliseType("varchar(20)"), "character varying(20)");
	EXPECT_EQ(NormaliseType("text; drop table x"), "");
	EXPECT_EQ(BaseType("numeric(38,18)"), "numeric");
	EXPECT_EQ(BaseType("timestamp(3) with time zone"), "timestamp with time zone");
	std::string error = ErrorOf(Users("[{\"path\": \"a\", \"column\": \"a\", \"type\": \"text'\"}]"));
	EXPECT_NE(error.find("type \"text'\" is not a type name"), std::string::npos) << error;
}

TEST(MappingParse, ChildTables) {
	auto child = [](const std::string &body) {
		return Users("[{\"path\": \"items\", \"child_table\": {" + body + "}}]");
	};
	EXPECT_EQ(ErrorOf(child("\"table\": \"user_items\", \"fields\": [{\"path\": \"sku\", \"column\": \"sku\", "
							"\"type\": \"text\"}]")),
			  "");
	EXPECT_NE(ErrorOf(child("\"fields\": [{\"path\": \"sku\", \"column\": \"sku\", \"type\": \"text\"}]"))
				  .find("has no \"table\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(child("\"table\": \"users\", \"fields\": [{\"path\": \"sku\", \"column\": \"sku\", "
							"\"type\": \"text\"}]"))
				  .find("table \"users\" is already mapped"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(child("\"table\": \"t2\", \"fields\": []")).find("at least one field"), std::string::npos);
	EXPECT_NE(ErrorOf(child("\"table\": \"t2\", \"fields\": [{\"path\": \"\", \"column\": \"v\", \"type\": \"text\"},"
							"{\"path\": \"w\", \"column\": \"w\", \"type\": \"text\"}]"))
				  .find("must be the only field"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(child("\"table\": \"t2\", \"extra_column\": \"extra\", \"fields\": [{\"path\": \"\", "
							"\"column\": \"v\", \"type\": \"text\"}]"))
				  .find("an array of scalars has no extra column"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(child("\"table\": \"t2\", \"fields\": [{\"path\": \"a\", \"polymorphic\": \"p\", "
							"\"references\": \"users\"}]"))
				  .find("unknown key \"polymorphic\" in a child table's field"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(child("\"table\": \"t2\", \"fields\": [{\"path\": \"position\", \"column\": \"position\", "
							"\"type\": \"integer\"}]"))
				  .find("column \"position\" appears twice in table \"t2\""),
			  std::string::npos);
}

TEST(MappingParse, IndexesNameColumnsOfTheTable) {
	std::string fields = "[{\"path\": \"email\", \"column\": \"email\", \"type\": \"text\"},"
						 "{\"path\": \"at\", \"column\": \"created_at\", \"type\": \"timestamptz\"}]";
	EXPECT_EQ(ErrorOf(Users(fields, ", \"indexes\": [{\"unique\": [\"email\"], \"name\": \"users_email\"}, "
									"{\"ttl\": \"created_at\", \"after\": 3600}]")),
			  "");
	std::string error = ErrorOf(Users(fields, ", \"indexes\": [{\"sparse_unique\": [\"mail\"]}]"));
	EXPECT_NE(error.find("\"sparse_unique\" names \"mail\", which is not a column of table \"users\"; use a mapped "
						 "column: created_at, email, extra, id, legacy_object_id"),
			  std::string::npos)
		<< error;
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"partial_unique\": [\"email\"]}]")).find("needs \"where\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"index\": [\"email\"], \"where\": \"x\"}]"))
				  .find("\"where\" goes only with \"partial_unique\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"index\": [\"email\"], \"unique\": [\"email\"]}]"))
				  .find("an index has one kind"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"name\": \"x\"}]")).find("this index has no kind"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"ttl\": \"email\", \"after\": \"1 day\"}]"))
				  .find("ttl column \"email\" is of type text; a TTL needs a timestamp column"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"ttl\": \"created_at\"}]")).find("a ttl needs \"after\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"indexes\": [{\"ttl\": \"created_at\", \"after\": \"soon\"}]"))
				  .find("\"after\" \"soon\" is not a positive interval"),
			  std::string::npos);
	EXPECT_EQ(IntervalText("1 hour 30 mins"), "1 hours 30 minutes");
	EXPECT_EQ(IntervalText("0 days"), "");
}

TEST(MappingParse, SumsAndCounters) {
	std::string fields = "[{\"path\": \"amount\", \"column\": \"amount\", \"type\": \"numeric\"},"
						 "{\"path\": \"currency\", \"column\": \"currency\", \"type\": \"text\"}]";
	EXPECT_EQ(ErrorOf(Users(fields, ", \"sums\": [{\"column\": \"amount\", \"group_by\": [\"currency\"]}]")), "");
	EXPECT_NE(ErrorOf(Users(fields, ", \"sums\": [{\"column\": \"currency\"}]"))
				  .find("sum column \"currency\" is of type text"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(Users(fields, ", \"sums\": [{\"column\": \"amount\", \"group_by\": [\"cur\"]}]"))
				  .find("group_by names \"cur\", which is not a column"),
			  std::string::npos);
	std::string counter = "{\"name\": \"t\", \"collections\": [{\"collection\": \"users\", \"fields\": [{\"path\": "
						  "\"n\", \"column\": \"n\", \"type\": \"bigint\"}, {\"path\": \"k\", \"column\": \"k\", "
						  "\"type\": \"text\"}]}], \"counters\": [";
	EXPECT_EQ(ErrorOf(counter + "{\"scope\": \"s\", \"collection\": \"users\", \"key\": [\"k\"], \"value\": \"n\"}]}"),
			  "");
	EXPECT_NE(ErrorOf(counter + "{\"scope\": \"s\", \"collection\": \"user\", \"key\": [\"k\"], \"value\": \"n\"}]}")
				  .find("references \"user\", which is not a collection of this mapping"),
			  std::string::npos);
	EXPECT_NE(ErrorOf(counter + "{\"scope\": \"s\", \"collection\": \"users\", \"key\": [\"z\"], \"value\": \"n\"}]}")
				  .find("the counter's key names \"z\""),
			  std::string::npos);
	EXPECT_NE(ErrorOf(counter + "{\"scope\": \"s\", \"collection\": \"users\", \"key\": [\"k\"], \"value\": \"k\"}]}")
				  .find("counter value column \"k\" is of type text"),
			  std::string::npos);
}

TEST(MappingParse, CollectionsAndTablesAreUnique) {
	std::string error = ErrorOf("{\"name\": \"t\", \"collections\": [{\"collection\": \"users\"},\n"
								"{\"collection\": \"users\", \"table\": \"users2\"}]}");
	EXPECT_NE(error.find("m.json:2:16: collection \"users\" is mapped twice (at line 1)"), std::string::npos) << error;
	error = ErrorOf("{\"name\": \"t\", \"collections\": [{\"collection\": \"users\"},"
					"{\"collection\": \"people\", \"table\": \"users\"}]}");
	EXPECT_NE(error.find("table \"users\" is already mapped"), std::string::npos) << error;
	error = ErrorOf("{\"name\": \"t\", \"collections\": [{\"collection\": \"user-events\"}]}");
	EXPECT_NE(error.find("needs a \"table\"; add \"table\": \"user_events\""), std::string::npos) << error;
}

TEST(MappingParse, EveryErrorIsReported) {
	std::string error = ErrorOf(Users("[{\"path\": \"a\", \"colum\": \"a\", \"type\": \"text\"},"
									  "{\"path\": \"b\", \"column\": \"B\", \"type\": \"text\"}]"));
	EXPECT_NE(error.find("unknown key \"colum\""), std::string::npos) << error;
	EXPECT_NE(error.find("column name \"B\""), std::string::npos) << error;
}

TEST(MappingParse, LoadMappingNamesAnUnreadableFile) {
	try {
		LoadMapping("/nonexistent/m.json");
		FAIL() << "no error";
	} catch (const MappingError &e) {
		EXPECT_NE(std::string(e.what()).find("/nonexistent/m.json: cannot read the mapping file"), std::string::npos);
	}
}

TEST(MappingNames, SnakeCase) {
	EXPECT_EQ(SnakeCase("displayName"), "display_name");
	EXPECT_EQ(SnakeCase("userId"), "user_id");
	EXPECT_EQ(SnakeCase("HTTPServer"), "http_server");
	EXPECT_EQ(SnakeCase("e-mail"), "e_mail");
	EXPECT_EQ(SnakeCase("2fa"), "_2fa");
	EXPECT_EQ(SnakeCase("order"), "order_");
	EXPECT_TRUE(IsPlainIdentifier("display_name"));
	EXPECT_FALSE(IsPlainIdentifier("select"));
	EXPECT_FALSE(IsPlainIdentifier(std::string(64, 'a')));
}

} // namespace
} // namespace mosta::mapping
