/*
 * pg_types_test.cpp
 *     The PostgreSQL type table (mosta/common/pg_types.hpp): the declared-type parser, the lookups and their
 *     fallbacks, and that the SQL side of mosta_validate_rule (sql/parts/60_validate.sql) agrees with it: the
 *     SQLite declared types of mosta._sqlite_declared_type, and the types mosta._mongodb_value_issue knows to map
 *     to a BSON type of their own.
 */
#include "mosta/common/pg_types.hpp"

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

using mosta::BsonForm;
using mosta::PgTypeKind;

TEST(SplitPgTypeName, StripsTypmodsAndArrays) {
	EXPECT_EQ(mosta::SplitPgTypeName("numeric(10,2)").base, "numeric");
	mosta::PgTypeName name = mosta::SplitPgTypeName("timestamp(3) with time zone[][]");
	EXPECT_EQ(name.base, "timestamp with time zone");
	EXPECT_EQ(name.dims, 2);
	EXPECT_EQ(mosta::SplitPgTypeName("character varying(10)[]").base, "character varying");
	EXPECT_EQ(mosta::SplitPgTypeName("public.mood").base, "public.mood");
	EXPECT_EQ(mosta::SplitPgTypeName("\"My s\".\"T(1)\"").base, "\"My s\".\"T\"") << "quoted parentheses too";
	EXPECT_EQ(mosta::SplitPgTypeName("").base, "");
	EXPECT_EQ(mosta::SplitPgTypeName("bit(3)").dims, 0);
}

TEST(PgTypeTable, LooksUpEveryRowAndFallsBack) {
	std::set<std::string_view> names;
	for (const mosta::PgTypeInfo &row : mosta::PgTypeTable()) {
		EXPECT_TRUE(names.insert(row.name).second) << "twice: " << row.name;
		EXPECT_EQ(&mosta::PgTypeOf(row.name), &row);
	}
	EXPECT_EQ(mosta::PgTypeOf("interval").kind, PgTypeKind::Text);
	EXPECT_EQ(mosta::PgTypeOf("interval").sqlite, mosta::SqliteAffinity::Text);
	EXPECT_EQ(mosta::PgTypeOf("public.mood").kind, PgTypeKind::User);
	EXPECT_EQ(mosta::PgTypeOf("public.mood").sqlite, mosta::SqliteAffinity::None);
	EXPECT_EQ(mosta::PgTypeOf("\"Mood\"").kind, PgTypeKind::User);
	mosta::PgColumnType column = mosta::ClassifyPgType("timestamp(6) without time zone[]");
	EXPECT_EQ(column.info->kind, PgTypeKind::Timestamp);
	EXPECT_EQ(column.info->sql, mosta::SqlLiteralForm::BcYears);
	EXPECT_EQ(column.dims, 1);
	EXPECT_EQ(mosta::ClassifyPgType("numeric(40,2)").info->bson, BsonForm::Decimal128);
	EXPECT_EQ(mosta::ClassifyPgType("").info->kind, PgTypeKind::Text) << "unknown type";
	EXPECT_EQ(mosta::SqliteDeclaredTypeName(mosta::SqliteAffinity::None), "");
}

// FunctionBody returns the text of CREATE FUNCTION name ... up to its closing $$; in sql/parts/60_validate.sql.
std::string
FunctionBody(const std::string &name) {
	std::ifstream file(MOSTA_SOURCE_DIR "/sql/parts/60_validate.sql");
	EXPECT_TRUE(file.good()) << "cannot read sql/parts/60_validate.sql";
	std::stringstream text;
	text << file.rdbuf();
	std::string sql = text.str();
	std::size_t start = sql.find("CREATE FUNCTION " + name + "(");
	EXPECT_NE(start, std::string::npos) << name;
	if (start == std::string::npos)
		return {};
	std::size_t body = sql.find("$$", start);
	std::size_t end = sql.find("$$", body + 2);
	return sql.substr(body, end - body);
}

// Quoted returns the '...' strings of text, in order.
std::vector<std::string>
Quoted(const std::string &text) {
	std::vector<std::string> out;
	std::regex quoted("'([^']*)'");
	for (auto it = std::sregex_iterator(text.begin(), text.end(), quoted); it != std::sregex_iterator(); ++it)
		out.push_back((*it)[1]);
	return out;
}

TEST(PgTypeTable, AgreesWithTheSqlSideOnSqliteDeclaredTypes) {
	// lines: WHEN split_part($1, '(', 1) IN ('smallint', ...) THEN 'INTEGER'   or   = 'bytea' THEN 'BLOB'
	std::string body = FunctionBody("mosta._sqlite_declared_type");
	std::map<std::string, std::string> sql_side;
	std::istringstream lines(body);
	for (std::string line; std::getline(lines, line);) {
		if (line.find("split_part($1, '(', 1)") == std::string::npos)
			continue;
		std::vector<std::string> strings = Quoted(line.substr(line.find("1)") + 2));
		ASSERT_GE(strings.size(), 2u) << line;
		for (std::size_t i = 0; i + 1 < strings.size(); ++i)
			sql_side[strings[i]] = strings.back();
	}
	ASSERT_GE(sql_side.size(), 10u) << body;
	for (const auto &[name, declared] : sql_side)
		EXPECT_EQ(mosta::SqliteDeclaredTypeName(mosta::PgTypeOf(name).sqlite), declared) << name;
	// every row the SQL side would otherwise call TEXT (its ELSE) is listed there
	for (const mosta::PgTypeInfo &row : mosta::PgTypeTable()) {
		if (row.sqlite != mosta::SqliteAffinity::Text) {
			EXPECT_TRUE(sql_side.count(std::string(row.name))) << row.name << " is missing from _sqlite_declared_type";
		}
	}
	// arrays are TEXT, qualified or quoted names have no declared type, other names are TEXT: as PgTypeOf
	EXPECT_NE(body.find("WHEN right($1, 2) = '[]' THEN 'TEXT'"), std::string::npos);
	EXPECT_NE(body.find("WHEN $1 ~ '[.\"]' THEN ''"), std::string::npos);
	EXPECT_NE(body.find("ELSE 'TEXT'"), std::string::npos);
}

TEST(PgTypeTable, AgreesWithTheSqlSideOnBsonTypes) {
	std::string body = FunctionBody("mosta._mongodb_value_issue");
	const std::map<std::string, std::string> aliases = {{"timestamptz", "timestamp with time zone"},
														{"timestamp", "timestamp without time zone"}};
	auto canonical = [&](const std::string &name) {
		auto found = aliases.find(name);
		return found == aliases.end() ? name : found->second;
	};
	std::set<std::string> named;
	std::regex regtype("'([^']*)'::regtype");
	for (auto it = std::sregex_iterator(body.begin(), body.end(), regtype); it != std::sregex_iterator(); ++it)
		named.insert(canonical((*it)[1]));
	// the severity CASE's "maps without surprise" list: each has a BSON type of its own in the table
	std::size_t list = body.find("WHEN type_oid IN ('numeric'::regtype, 'smallint'");
	ASSERT_NE(list, std::string::npos) << body;
	std::string clause = body.substr(list, body.find("THEN NULL", list) - list);
	std::set<std::string> silent;
	for (auto it = std::sregex_iterator(clause.begin(), clause.end(), regtype); it != std::sregex_iterator(); ++it)
		silent.insert(canonical((*it)[1]));
	ASSERT_GE(silent.size(), 9u);
	for (const std::string &name : silent) {
		const mosta::PgTypeInfo &row = mosta::PgTypeOf(name);
		EXPECT_FALSE(row.name.empty()) << name << " is not in the type table";
		EXPECT_NE(row.bson, BsonForm::String) << name;
	}
	// every type the table gives a BSON type of its own is one the SQL side names
	for (const mosta::PgTypeInfo &row : mosta::PgTypeTable()) {
		if (row.bson != BsonForm::String) {
			EXPECT_TRUE(named.count(std::string(row.name))) << row.name << " is missing from _mongodb_value_issue";
		}
	}
}

} // namespace
