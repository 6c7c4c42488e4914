/*
 * ddl_test.cpp
 *     The pre-data and post-data statements of a schema model (model/ddl.hpp), on a model of the type zoo
 *     (test/integration/lib/copy_zoo.sql) written as the catalog reader reads it: order, quoting, every clause.
 *     With MOSTA_DDL_TEST_CONNINFO set (test/integration/copy_restore.sh sets it to an empty database), the
 *     statements also run on PostgreSQL, in one transaction that is rolled back.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <libpq-fe.h>

#include "model/ddl.hpp"
#include "pg/handles.hpp"

namespace mosta::copy {
namespace {

ColumnDef
Column(std::string name, std::string type, bool not_null = false, std::string default_expr = "") {
	ColumnDef column;
	column.name = std::move(name);
	column.type = type;
	column.base_type = std::move(type);
	column.not_null = not_null;
	column.default_expr = std::move(default_expr);
	return column;
}

// ZooModel returns the model of copy_zoo.sql (its main features), tables in foreign-key order.
DatabaseSchema
ZooModel() {
	DatabaseSchema schema;
	schema.types.push_back({"zoo", "mood", "enum", {"sad", "ok", "it's"}, "", false, "", {}, ""});
	schema.types.push_back(
		{"zoo", "qty", "domain", {}, "integer", true, "0", {"CONSTRAINT qty_check CHECK ((VALUE >= 0))"}, ""});
	schema.types.push_back({"zoo",
							"code",
							"domain",
							{},
							"character varying(8)",
							false,
							"",
							{"CONSTRAINT code_check CHECK (((VALUE)::text ~ '^[A-Z]+$'::text))"},
							"pg_catalog.\"C\""});

	SequenceDef identity;
	identity.schema = "zoo";
	identity.name = "customers_id_seq";
	identity.last_value = 3;
	identity.is_called = true;
	identity.owned_by_table = "zoo.customers";
	identity.owned_by_column = "id";
	identity.identity = true;
	SequenceDef serial;
	serial.schema = "zoo";
	serial.name = "values_id_seq";
	serial.data_type = "integer";
	serial.max_value = 2147483647;
	serial.last_value = 4;
	serial.is_called = true;
	serial.owned_by_table = "zoo.values";
	serial.owned_by_column = "id";
	SequenceDef tickets;
	tickets.schema = "app";
	tickets.name = "ticket_seq";
	tickets.start = 100;
	tickets.increment = 5;
	tickets.last_value = 110;
	tickets.is_called = true;
	schema.sequences = {identity, serial, tickets};

	TableDef customers;
	customers.schema = "zoo";
	customers.name = "customers";
	ColumnDef id = Column("id", "bigint", true);
	id.identity = 'd';
	customers.columns = {id, Column("name", "text", true), Column("mood", "zoo.mood"), Column("code", "zoo.code")};
	customers.columns[3].base_type = "character varying(8)";
	customers.primary_key = {"id"};
	customers.post_data = {"ALTER TABLE ONLY zoo.customers ADD CONSTRAINT customers_pkey PRIMARY KEY (id);",
						   "ALTER TABLE ONLY zoo.customers ADD CONSTRAINT customers_name_key UNIQUE (name);"};
	customers.comment = "people's accounts";

	TableDef values;
	values.schema = "zoo";
	values.name = "values";
	values.columns = {Column("id", "integer", true, "nextval('zoo.values_id_seq'::regclass)"),
					  Column("customer_id", "bigint"), Column("q", "zoo.qty"), Column("t", "text"),
					  Column("twice_q", "integer")};
	values.columns[2].base_type = "integer";
	values.columns[3].collation = "pg_catalog.\"C\"";
	values.columns[4].generated = "(q * 2)";
	values.check_constraints = {"CONSTRAINT values_check CHECK (((q IS NULL) OR (q < 1000)))"};
	values.primary_key = {"id"};
	values.references = {"zoo.customers"};
	values.post_data = {"ALTER TABLE ONLY zoo.\"values\" ADD CONSTRAINT values_pkey PRIMARY KEY (id);",
						"CREATE INDEX values_lower_t_idx ON zoo.\"values\" USING btree (lower(t));"};
	values.foreign_keys = {"ALTER TABLE ONLY zoo.\"values\" ADD CONSTRAINT values_customer_id_fkey FOREIGN KEY "
						   "(customer_id) REFERENCES zoo.customers(id);"};

	TableDef measures;
	measures.schema = "zoo";
	measures.name = "measures";
	measures.columns = {Column("id", "integer", true), Column("region", "text", true), Column("v", "numeric")};
	measures.partition_key = "LIST (region)";
	measures.partitions = {
		{"zoo", "measures_eu", "zoo", "measures", "FOR VALUES IN ('eu')", ""},
		{"zoo", "measures_us", "zoo", "measures", "FOR VALUES IN ('us')", "RANGE (id)"},
		{"zoo", "measures_us_low", "zoo", "measures_us", "FOR VALUES FROM (MINVALUE) TO (100)", ""},
		{"zoo", "measures_other", "zoo", "measures", "DEFAULT", ""},
	};
	measures.post_data = {"ALTER TABLE zoo.measures ADD CONSTRAINT measures_pkey PRIMARY KEY (id, region);"};

	TableDef mixed;
	mixed.schema = "zoo";
	mixed.name = "Mixed Case";
	mixed.columns = {Column("Key", "integer", true), Column("a,b", "text")};

	TableDef app_tickets;
	app_tickets.schema = "app";
	app_tickets.name = "tickets";
	app_tickets.columns = {Column("no", "integer", true, "nextval('app.ticket_seq'::regclass)"),
						   Column("customer_id", "bigint")};
	app_tickets.references = {"zoo.customers"};
	app_tickets.foreign_keys = {"ALTER TABLE ONLY app.tickets ADD CONSTRAINT tickets_customer_id_fkey FOREIGN KEY "
								"(customer_id) REFERENCES zoo.customers(id) ON DELETE CASCADE;"};

	schema.tables = {customers, values, measures, mixed, app_tickets};
	return schema;
}

std::size_t
IndexOf(const std::vector<std::string> &statements, const std::string &prefix) {
	for (std::size_t i = 0; i < statements.size(); ++i)
		if (statements[i].rfind(prefix, 0) == 0)
			return i;
	ADD_FAILURE() << "no statement starts with " << prefix;
	return statements.size();
}

TEST(Ddl, PreDataOrderSchemasTypesSequencesTablesOwnership) {
	std::vector<std::string> pre = PreDataStatements(ZooModel());
	for (const std::string &statement : pre)
		EXPECT_EQ(statement.back(), ';') << statement;
	EXPECT_EQ(pre[0], "CREATE SCHEMA IF NOT EXISTS \"zoo\";");
	EXPECT_EQ(pre[1], "CREATE SCHEMA IF NOT EXISTS \"app\";");
	EXPECT_EQ(
		std::count_if(pre.begin(), pre.end(), [](const std::string &s) { return s.rfind("CREATE SCHEMA", 0) == 0; }),
		2);
	std::size_t mood = IndexOf(pre, "CREATE TYPE \"zoo\".\"mood\"");
	std::size_t qty = IndexOf(pre, "CREATE DOMAIN \"zoo\".\"qty\"");
	std::size_t seq = IndexOf(pre, "CREATE SEQUENCE \"zoo\".\"values_id_seq\"");
	std::size_t customers = IndexOf(pre, "CREATE TABLE \"zoo\".\"customers\"");
	std::size_t values = IndexOf(pre, "CREATE TABLE \"zoo\".\"values\"");
	std::size_t owned = IndexOf(pre, "ALTER SEQUENCE \"zoo\".\"values_id_seq\" OWNED BY");
	EXPECT_LT(mood, qty);
	EXPECT_LT(qty, seq);
	EXPECT_LT(seq, customers);
	EXPECT_LT(customers, values);
	EXPECT_LT(values, owned);
	EXPECT_EQ(pre[owned], "ALTER SEQUENCE \"zoo\".\"values_id_seq\" OWNED BY \"zoo\".\"values\".\"id\";");
	// The identity sequence is made by CREATE TABLE, not on its own; the free sequence is not owned.
	EXPECT_EQ(std::count_if(pre.begin(), pre.end(),
							[](const std::string &s) { return s.find("customers_id_seq") != std::string::npos; }),
			  1);
	EXPECT_EQ(
		std::count_if(pre.begin(), pre.end(), [](const std::string &s) { return s.rfind("ALTER SEQUENCE", 0) == 0; }),
		1);
}

TEST(Ddl, TypesQuoteLabelsAndKeepDomainClauses) {
	std::vector<std::string> pre = PreDataStatements(ZooModel());
	EXPECT_EQ(pre[IndexOf(pre, "CREATE TYPE")], "CREATE TYPE \"zoo\".\"mood\" AS ENUM ('sad', 'ok', 'it''s');");
	EXPECT_EQ(pre[IndexOf(pre, "CREATE DOMAIN \"zoo\".\"qty\"")],
			  "CREATE DOMAIN \"zoo\".\"qty\" AS integer DEFAULT 0 NOT NULL CONSTRAINT qty_check CHECK ((VALUE >= 0));");
	EXPECT_EQ(pre[IndexOf(pre, "CREATE DOMAIN \"zoo\".\"code\"")],
			  "CREATE DOMAIN \"zoo\".\"code\" AS character varying(8) COLLATE pg_catalog.\"C\" CONSTRAINT code_check "
			  "CHECK (((VALUE)::text ~ '^[A-Z]+$'::text));");
}

TEST(Ddl, SequenceHasEveryOption) {
	std::vector<std::string> pre = PreDataStatements(ZooModel());
	EXPECT_EQ(pre[IndexOf(pre, "CREATE SEQUENCE \"app\"")],
			  "CREATE SEQUENCE \"app\".\"ticket_seq\" AS bigint START WITH 100 INCREMENT BY 5 MINVALUE 1 MAXVALUE "
			  "9223372036854775807 CACHE 1 NO CYCLE;");
	DatabaseSchema schema;
	SequenceDef cycling;
	cycling.schema = "s";
	cycling.name = "down";
	cycling.data_type = "smallint";
	cycling.start = -1;
	cycling.increment = -1;
	cycling.min_value = -32768;
	cycling.max_value = -1;
	cycling.cache = 20;
	cycling.cycle = true;
	schema.sequences = {cycling};
	std::vector<std::string> statements = PreDataStatements(schema);
	ASSERT_EQ(statements.size(), 2u);
	EXPECT_EQ(statements[1], "CREATE SEQUENCE \"s\".\"down\" AS smallint START WITH -1 INCREMENT BY -1 MINVALUE "
							 "-32768 MAXVALUE -1 CACHE 20 CYCLE;");
}

TEST(Ddl, CreateTableHasEveryColumnClause) {
	DatabaseSchema schema = ZooModel();
	EXPECT_EQ(CreateTableStatement(schema.tables[0], schema),
			  "CREATE TABLE \"zoo\".\"customers\" (\n"
			  "\t\"id\" bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME \"zoo\".\"customers_id_seq\" START "
			  "WITH 1 INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE) NOT NULL,\n"
			  "\t\"name\" text NOT NULL,\n"
			  "\t\"mood\" zoo.mood,\n"
			  "\t\"code\" zoo.code\n"
			  ");");
	EXPECT_EQ(CreateTableStatement(schema.tables[1], schema),
			  "CREATE TABLE \"zoo\".\"values\" (\n"
			  "\t\"id\" integer DEFAULT nextval('zoo.values_id_seq'::regclass) NOT NULL,\n"
			  "\t\"customer_id\" bigint,\n"
			  "\t\"q\" zoo.qty,\n"
			  "\t\"t\" text COLLATE pg_catalog.\"C\",\n"
			  "\t\"twice_q\" integer GENERATED ALWAYS AS ((q * 2)) STORED,\n"
			  "\tCONSTRAINT values_check CHECK (((q IS NULL) OR (q < 1000)))\n"
			  ");");
	TableDef always = schema.tables[0];
	always.columns[0].identity = 'a';
	EXPECT_NE(CreateTableStatement(always, schema).find("\"id\" bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME"),
			  std::string::npos);
	TableDef empty;
	empty.schema = "s";
	empty.name = "nothing";
	EXPECT_EQ(CreateTableStatement(empty, schema), "CREATE TABLE \"s\".\"nothing\" ();");
}

TEST(Ddl, PartitionsFollowTheirTableParentsFirst) {
	std::vector<std::string> pre = PreDataStatements(ZooModel());
	std::size_t root = IndexOf(pre, "CREATE TABLE \"zoo\".\"measures\" (");
	EXPECT_NE(pre[root].find("\n) PARTITION BY LIST (region);"), std::string::npos) << pre[root];
	EXPECT_EQ(pre[root + 1],
			  "CREATE TABLE \"zoo\".\"measures_eu\" PARTITION OF \"zoo\".\"measures\" FOR VALUES IN ('eu');");
	EXPECT_EQ(pre[root + 2], "CREATE TABLE \"zoo\".\"measures_us\" PARTITION OF \"zoo\".\"measures\" FOR VALUES IN "
							 "('us') PARTITION BY RANGE (id);");
	EXPECT_EQ(pre[root + 3], "CREATE TABLE \"zoo\".\"measures_us_low\" PARTITION OF \"zoo\".\"measures_us\" FOR "
							 "VALUES FROM (MINVALUE) TO (100);");
	EXPECT_EQ(pre[root + 4], "CREATE TABLE \"zoo\".\"measures_other\" PARTITION OF \"zoo\".\"measures\" DEFAULT;");
}

TEST(Ddl, CommentFollowsItsTable) {
	std::vector<std::string> pre = PreDataStatements(ZooModel());
	std::size_t customers = IndexOf(pre, "CREATE TABLE \"zoo\".\"customers\"");
	EXPECT_EQ(pre[customers + 1], "COMMENT ON TABLE \"zoo\".\"customers\" IS 'people''s accounts';");
}

TEST(Ddl, QuotesNamesThatNeedIt) {
	std::vector<std::string> pre = PreDataStatements(ZooModel());
	EXPECT_EQ(pre[IndexOf(pre, "CREATE TABLE \"zoo\".\"Mixed Case\"")],
			  "CREATE TABLE \"zoo\".\"Mixed Case\" (\n\t\"Key\" integer NOT NULL,\n\t\"a,b\" text\n);");
	TableDef odd;
	odd.schema = "we\"ird";
	odd.name = "t";
	odd.columns = {Column("x\"y", "text")};
	EXPECT_EQ(CopyFromStatement(odd), "COPY \"we\"\"ird\".\"t\" (\"x\"\"y\") FROM STDIN;");
}

TEST(Ddl, PostDataSequenceValuesThenIndexesThenForeignKeys) {
	std::vector<std::string> post = PostDataStatements(ZooModel());
	ASSERT_EQ(post.size(), 3u + 2u + 2u + 1u + 2u);
	EXPECT_EQ(post[0], "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('\"zoo\".\"customers\"', 'id'), "
					   "3, true);");
	EXPECT_EQ(post[1], "SELECT pg_catalog.setval('\"zoo\".\"values_id_seq\"', 4, true);");
	EXPECT_EQ(post[2], "SELECT pg_catalog.setval('\"app\".\"ticket_seq\"', 110, true);");
	EXPECT_EQ(post[3], "ALTER TABLE ONLY zoo.customers ADD CONSTRAINT customers_pkey PRIMARY KEY (id);");
	EXPECT_EQ(post[7], "ALTER TABLE zoo.measures ADD CONSTRAINT measures_pkey PRIMARY KEY (id, region);");
	EXPECT_NE(post[8].find("values_customer_id_fkey"), std::string::npos);
	EXPECT_NE(post[9].find("tickets_customer_id_fkey"), std::string::npos);
	EXPECT_EQ(SequenceValueStatements(ZooModel()), std::vector<std::string>(post.begin(), post.begin() + 3));
}

TEST(Ddl, SequenceValueNotCalledAndIdentityOfATableNotCopied) {
	DatabaseSchema schema = ZooModel();
	schema.sequences[1].is_called = false;
	schema.tables.erase(schema.tables.begin()); // customers not copied: its identity sequence is not either
	std::vector<std::string> values = SequenceValueStatements(schema);
	ASSERT_EQ(values.size(), 2u);
	EXPECT_EQ(values[0], "SELECT pg_catalog.setval('\"zoo\".\"values_id_seq\"', 4, false);");
}

TEST(Ddl, CopyFromLeavesGeneratedColumnsOut) {
	DatabaseSchema schema = ZooModel();
	EXPECT_EQ(CopyFromStatement(schema.tables[1]),
			  "COPY \"zoo\".\"values\" (\"id\", \"customer_id\", \"q\", \"t\") FROM STDIN;");
	TableDef empty;
	empty.schema = "s";
	empty.name = "nothing";
	EXPECT_EQ(CopyFromStatement(empty), "COPY \"s\".\"nothing\" FROM STDIN;");
}

// Exec runs sql on conn; returns PostgreSQL's error message, "" on success.
std::string
Exec(PGconn *conn, const std::string &sql) {
	sidecar::PgResultHandle result(PQexec(conn, sql.c_str()));
	ExecStatusType status = PQresultStatus(result.get());
	if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
		return "";
	return PQresultErrorMessage(result.get());
}

TEST(DdlOnPostgres, StatementsRunOnAnEmptyDatabase) {
	const char *conninfo = std::getenv("MOSTA_DDL_TEST_CONNINFO");
	if (conninfo == nullptr)
		GTEST_SKIP() << "MOSTA_DDL_TEST_CONNINFO is not set (test/integration/copy_restore.sh sets it)";
	sidecar::PgConnHandle conn(PQconnectdb(conninfo));
	ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
	ASSERT_EQ(Exec(conn.get(), "BEGIN"), "");
	DatabaseSchema schema = ZooModel();
	for (const std::string &statement : PreDataStatements(schema))
		ASSERT_EQ(Exec(conn.get(), statement), "") << statement;
	ASSERT_EQ(Exec(conn.get(), "INSERT INTO zoo.customers (name) VALUES ('a'), ('b'), ('c')"), "");
	for (const std::string &statement : PostDataStatements(schema))
		ASSERT_EQ(Exec(conn.get(), statement), "") << statement;
	// The identity kept its sequence's name; the values were set.
	sidecar::PgResultHandle result(
		PQexec(conn.get(), "SELECT pg_get_serial_sequence('zoo.customers', 'id'), nextval('app.ticket_seq'), "
						   "(SELECT count(*) FROM pg_inherits WHERE inhparent = 'zoo.measures'::regclass)"));
	ASSERT_EQ(PQresultStatus(result.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
	EXPECT_STREQ(PQgetvalue(result.get(), 0, 0), "zoo.customers_id_seq");
	EXPECT_STREQ(PQgetvalue(result.get(), 0, 1), "115");
	EXPECT_STREQ(PQgetvalue(result.get(), 0, 2), "3");
	EXPECT_EQ(Exec(conn.get(), "ROLLBACK"), "");
}

} // namespace
} // namespace mosta::copy
