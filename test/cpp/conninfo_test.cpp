/*
 * conninfo_test.cpp
 *     Unit tests for dialect names, MaskCredentials, MaskCredentialsInText and CheckUri.
 */
#include "mosta/common/conninfo.hpp"

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <libpq-fe.h> // PQconninfoParse, to prove the key=value test inputs mean what the tests say

namespace {

using namespace std::string_literals;
using mosta::Dialect;

TEST(Dialect, ParsesExactLowercaseNames) {
	EXPECT_EQ(mosta::ParseDialect("postgres"), Dialect::Postgres);
	EXPECT_EQ(mosta::ParseDialect("sqlite"), Dialect::Sqlite);
	EXPECT_EQ(mosta::ParseDialect("mongodb"), Dialect::Mongodb);
	EXPECT_EQ(mosta::ParseDialect("sqldump"), Dialect::SqlDump);
	EXPECT_EQ(mosta::ParseDialect("jsonl"), Dialect::Jsonl);
	for (const char *name : {"", "Postgres", "postgresql", "mongo", " sqlite", "jsonl ", "sql_dump"})
		EXPECT_EQ(mosta::ParseDialect(name), std::nullopt) << name;
}

TEST(Dialect, NamesRoundTrip) {
	for (Dialect dialect : {Dialect::Postgres, Dialect::Sqlite, Dialect::Mongodb, Dialect::SqlDump, Dialect::Jsonl})
		EXPECT_EQ(mosta::ParseDialect(mosta::DialectName(dialect)), dialect);
	EXPECT_EQ(mosta::ValidDialectNames(), "postgres, sqlite, mongodb, sqldump, jsonl");
}

struct MaskCase {
	std::string input;
	std::string expected;
	std::vector<std::string> secrets; // none of these may appear in the output
};

// Unescape decodes a field of PostgreSQL's COPY text format (\\, \t, \n, \r).
std::string
Unescape(const std::string &field) {
	std::string text;
	for (size_t i = 0; i < field.size(); i++) {
		if (field[i] != '\\' || i + 1 == field.size()) {
			text += field[i];
			continue;
		}
		char c = field[++i];
		text += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
	}
	return text;
}

// Split returns the parts of text between separators.
std::vector<std::string>
Split(const std::string &text, const std::string &separator) {
	std::vector<std::string> parts;
	size_t begin = 0;
	for (size_t at; (at = text.find(separator, begin)) != std::string::npos; begin = at + separator.size())
		parts.push_back(text.substr(begin, at - begin));
	parts.push_back(text.substr(begin));
	return parts;
}

// LoadCases returns the cases of kind ("uri" or "text") of test/cases/masking.tsv, the table the extension's
// pgTAP test (test/pgtap/99_masking.sql) reads too.
std::vector<MaskCase>
LoadCases(const std::string &kind) {
	std::ifstream file(MOSTA_SOURCE_DIR "/test/cases/masking.tsv");
	EXPECT_TRUE(file.good()) << "cannot read " MOSTA_SOURCE_DIR "/test/cases/masking.tsv";
	std::vector<MaskCase> cases;
	for (std::string line; std::getline(file, line);) {
		if (line.empty() || line[0] == '#')
			continue;
		std::vector<std::string> fields = Split(line, "\t");
		EXPECT_EQ(fields.size(), 4u) << line;
		if (fields.size() != 4 || fields[0] != kind)
			continue;
		MaskCase c{Unescape(fields[1]), Unescape(fields[2]), {}};
		if (!fields[3].empty())
			for (const std::string &secret : Split(Unescape(fields[3]), "|"))
				c.secrets.push_back(secret);
		cases.push_back(std::move(c));
	}
	return cases;
}

const std::vector<MaskCase> mask_cases = LoadCases("uri");

TEST(MaskCredentials, MasksTable) {
	EXPECT_GT(mask_cases.size(), 40u);
	for (const MaskCase &c : mask_cases) {
		std::string masked = mosta::MaskCredentials(c.input);
		EXPECT_EQ(masked, c.expected) << "input: " << c.input;
		for (const std::string &secret : c.secrets)
			EXPECT_EQ(masked.find(secret), std::string::npos) << "input: " << c.input << " leaks " << secret;
	}
}

TEST(MaskCredentials, IsIdempotent) {
	for (const MaskCase &c : mask_cases) {
		std::string once = mosta::MaskCredentials(c.input);
		EXPECT_EQ(mosta::MaskCredentials(once), once) << "input: " << c.input;
	}
}

// RandomText returns a string made of n pieces that stress the masking rules.
std::string
RandomText(std::mt19937 &random, size_t n) {
	static const std::vector<std::string> pieces = {"postgresql://",
													"password",
													"pwd",
													"=",
													" ",
													"'",
													"\\",
													"@",
													":",
													"/",
													"?",
													"&",
													";",
													"#",
													"a",
													"b",
													"***",
													"''",
													"%41",
													"host=h",
													"user",
													"token=",
													"//",
													"\t"};
	std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
	std::string text;
	for (size_t i = 0; i < n; i++)
		text += pieces[pick(random)];
	return text;
}

TEST(MaskCredentials, IsIdempotentOnRandomInput) {
	std::mt19937 random(20240601);
	for (int i = 0; i < 20000; i++) {
		std::string input = RandomText(random, 1 + i % 12);
		std::string once = mosta::MaskCredentials(input);
		ASSERT_EQ(mosta::MaskCredentials(once), once) << "input: " << input;
	}
}

// RandomPassword returns a password drawn from characters that break naive parsers.
std::string
RandomPassword(std::mt19937 &random) {
	static const std::string chars = "aZ9@:/?#&;=%' \\\"";
	std::uniform_int_distribution<size_t> length(1, 10), pick(0, chars.size() - 1);
	std::string password = "Q"; // a marker that appears nowhere else in the inputs
	for (size_t n = length(random); n > 0; n--)
		password += chars[pick(random)];
	return password;
}

// LibpqPassword returns the password libpq reads from conninfo, or "<error>".
std::string
LibpqPassword(const std::string &conninfo) {
	char *error = nullptr;
	PQconninfoOption *options = PQconninfoParse(conninfo.c_str(), &error);
	PQfreemem(error);
	std::string password = options ? "" : "<error>";
	for (PQconninfoOption *option = options; option && option->keyword; option++)
		if (std::string(option->keyword) == "password" && option->val)
			password = option->val;
	PQconninfoFree(options);
	return password;
}

TEST(MaskCredentials, NeverLeaksRandomPasswords) {
	std::mt19937 random(7);
	for (int i = 0; i < 5000; i++) {
		std::string password = RandomPassword(random);
		std::string escaped;
		for (char c : password)
			escaped += (c == '\'' || c == '\\') ? "\\"s + c : std::string(1, c);
		std::string conninfo = "host=h password='" + escaped + "' user=u";
		ASSERT_EQ(LibpqPassword(conninfo), password) << conninfo;
		EXPECT_EQ(mosta::MaskCredentials(conninfo), "host=h password=*** user=u") << conninfo;

		std::string uri = "postgresql://u:" + password + "@host/db";
		std::string masked = mosta::MaskCredentials(uri);
		EXPECT_EQ(masked.find('Q'), std::string::npos) << uri << " -> " << masked;
		if (password.find('=') == std::string::npos) {
			EXPECT_EQ(masked, "postgresql://u:***@host/db") << uri;
		}
	}
}

const std::vector<MaskCase> text_cases = LoadCases("text");

TEST(MaskCredentialsInText, MasksTable) {
	EXPECT_GT(text_cases.size(), 40u);
	for (const MaskCase &c : text_cases) {
		std::string masked = mosta::MaskCredentialsInText(c.input);
		EXPECT_EQ(masked, c.expected) << "input: " << c.input;
		for (const std::string &secret : c.secrets)
			EXPECT_EQ(masked.find(secret), std::string::npos) << "input: " << c.input << " leaks " << secret;
	}
}

TEST(MaskCredentialsInText, IsIdempotent) {
	std::vector<std::string> inputs;
	for (const std::vector<MaskCase> *cases : {&text_cases, &mask_cases})
		for (const MaskCase &c : *cases)
			inputs.push_back(c.input);
	std::mt19937 random(20240602);
	for (int i = 0; i < 20000; i++)
		inputs.push_back(RandomText(random, 1 + i % 12));
	for (const std::string &input : inputs) {
		std::string once = mosta::MaskCredentialsInText(input);
		ASSERT_EQ(mosta::MaskCredentialsInText(once), once) << "input: " << input;
	}
}

TEST(MaskCredentialsInText, NeverLeaksRandomPasswords) {
	std::mt19937 random(11);
	for (int i = 0; i < 5000; i++) {
		std::string password = RandomPassword(random);
		std::string escaped;
		for (char c : password)
			escaped += (c == '\'' || c == '\\') ? "\\"s + c : std::string(1, c);
		std::string text = "could not connect: host=h password='" + escaped + "' user=u";
		EXPECT_EQ(mosta::MaskCredentialsInText(text), "could not connect: host=h password=*** user=u") << text;

		// A URI token ends at a blank or a quote, so passwords in URIs must percent-encode them.
		password.erase(
			std::remove_if(password.begin(), password.end(), [](char c) { return c == ' ' || c == '\'' || c == '"'; }),
			password.end());
		text = "error: postgresql://u:" + password + "@host/db timed out, user@host";
		std::string masked = mosta::MaskCredentialsInText(text);
		EXPECT_EQ(masked.find('Q'), std::string::npos) << text << " -> " << masked;
		EXPECT_NE(masked.find(" timed out, user@host"), std::string::npos) << text << " -> " << masked;
	}
}

// ExpectAccepted checks that every uri passes CheckUri for dialect.
void
ExpectAccepted(Dialect dialect, const std::vector<std::string> &uris) {
	for (const std::string &uri : uris) {
		std::optional<mosta::UriProblem> problem = mosta::CheckUri(dialect, uri);
		EXPECT_FALSE(problem.has_value()) << uri << ": " << (problem ? problem->message : "");
	}
}

// ExpectRejected checks each {uri, message} pair, and that no message or hint contains "secret".
void
ExpectRejected(Dialect dialect, const std::vector<std::pair<std::string, std::string>> &cases) {
	for (const auto &[uri, message] : cases) {
		std::optional<mosta::UriProblem> problem = mosta::CheckUri(dialect, uri);
		ASSERT_TRUE(problem.has_value()) << uri;
		EXPECT_EQ(problem->message, message) << uri;
		EXPECT_EQ(problem->message.find("secret"), std::string::npos) << problem->message;
		EXPECT_EQ(problem->message.back() == '.', false) << problem->message;
		EXPECT_EQ(problem->hint.substr(0, 4), "Use ") << problem->hint;
		EXPECT_EQ(problem->hint.back(), '.') << problem->hint;
	}
}

TEST(CheckUri, Postgres) {
	ExpectAccepted(Dialect::Postgres,
				   {"postgresql://localhost/app", "postgres://u:secret@h1:5432,h2:5433/db?sslmode=require",
					"postgresql://", "postgresql://[::1]:5432/db", "host=localhost port=5432 dbname=app user=app",
					"host = h password = 'sec ret\\'x' dbname=d", "dbname=postgresql://u:secret@h/db"});
	ExpectRejected(
		Dialect::Postgres,
		{{"", "invalid postgres connection string \"\": empty"},
		 {"  ", "invalid postgres connection string \"  \": empty"},
		 {"host=h\0 password=secret"s,
		  "invalid postgres connection string \"host=h\\0 password=***\": contains a NUL byte"},
		 {"mysql://u:secret@h/db",
		  "invalid postgres connection string \"mysql://u:***@h/db\": unsupported scheme \"mysql\""},
		 {"Postgresql://u:secret@h/db",
		  "invalid postgres connection string \"Postgresql://u:***@h/db\": unsupported scheme \"Postgresql\""},
		 {"host=h password=secret bogus", "invalid postgres connection string \"host=h password=***\": missing \"=\" "
										  "after \"***\" in connection info string"},
		 {"host=h nosuchoption=1",
		  "invalid postgres connection string \"host=h nosuchoption=1\": invalid connection option \"nosuchoption\""},
		 {"host=h password='secret", "invalid postgres connection string \"host=h password=***\": unterminated quoted "
									 "string in connection info string"},
		 {"postgresql://u:secret%zz@h/db",
		  "invalid postgres connection string \"postgresql://u:***@h/db\": invalid percent-encoded token: \"***\""},
		 {"postgresql://u:secret@[::1/db", "invalid postgres connection string \"postgresql://u:***@[::1/db\": end of "
										   "string reached when looking for matching \"]\" in IPv6 host address in "
										   "URI: \"postgresql://u:***@[::1/db\""},
		 {"postgresql://h/db?bogus=1&password=secret", "invalid postgres connection string "
													   "\"postgresql://h/db?bogus=1&password=***\": invalid URI query "
													   "parameter: \"bogus\""}});
}

TEST(CheckUri, PostgresPorts) {
	ExpectAccepted(Dialect::Postgres,
				   {"postgresql://h:5432/db", "postgresql://h1:1,h2:65535/db", "postgresql://h1,h2:5433/db",
					"postgresql://h/db?port=5433", "host=x port=5432", "host=x port=", "host=a,b port=5432,",
					"host=a,b,c port=,5433,", "host=x port=''"});
	std::string prefix = "invalid postgres connection string ";
	std::string range = " (must be 1 to 65535)";
	ExpectRejected(
		Dialect::Postgres,
		{{"postgresql://host:notaport/db",
		  prefix + "\"postgresql://host:notaport/db\": invalid port \"notaport\"" + range},
		 {"postgresql://h1:5432,h2:99999/db",
		  prefix + "\"postgresql://h1:5432,h2:99999/db\": invalid port \"99999\"" + range},
		 {"postgresql://h/db?port=abc", prefix + "\"postgresql://h/db?port=abc\": invalid port \"abc\"" + range},
		 {"postgresql://u:secret@h:0/db", prefix + "\"postgresql://u:***@h:0/db\": invalid port \"0\"" + range},
		 {"host=x port=abc", prefix + "\"host=x port=abc\": invalid port \"abc\"" + range},
		 {"port=0", prefix + "\"port=0\": invalid port \"0\"" + range},
		 {"port=5432,70000", prefix + "\"port=5432,70000\": invalid port \"70000\"" + range},
		 {"port=-1", prefix + "\"port=-1\": invalid port \"-1\"" + range},
		 {"port=99999999999999999999", prefix +
										   "\"port=99999999999999999999\": invalid port "
										   "\"99999999999999999999\"" +
										   range},
		 {"host=h password=secret port=' x'",
		  prefix + "\"host=h password=*** port=' x'\": invalid port \" x\"" + range}});

	std::optional<mosta::UriProblem> problem =
		mosta::CheckUri(Dialect::Postgres, "postgresql://u:S3cret@h:notaport/db");
	ASSERT_TRUE(problem.has_value());
	EXPECT_EQ(problem->message, prefix + "\"postgresql://u:***@h:notaport/db\": invalid port \"notaport\"" + range);
	EXPECT_EQ(problem->message.find("S3cret"), std::string::npos);
	EXPECT_EQ(problem->hint, mosta::CheckUri(Dialect::Postgres, "mysql://h")->hint);
}

TEST(CheckUri, Mongodb) {
	ExpectAccepted(Dialect::Mongodb,
				   {"mongodb://localhost", "mongodb://h:27017", "mongodb://user:secret@h1,h2:27018/db?authSource=admin",
					"mongodb://[::1]:27017/db", "mongodb+srv://user:p%40ss@cluster0.example.com/db?retryWrites=true",
					"mongodb://h/?w=1;journal=true", "mongodb://%2Ftmp%2Fmongodb-27017.sock", "mongodb://u@h/"});
	std::string prefix = "invalid mongodb URI ";
	ExpectRejected(
		Dialect::Mongodb,
		{{"mongodb://u:secret@", prefix + "\"mongodb://u:***@\": no host"},
		 {"mongodb://", prefix + "\"mongodb://\": no host"},
		 {"mongodb://h:0", prefix + "\"mongodb://h:0\": invalid port \"0\" (must be 1 to 65535)"},
		 {"mongodb://h:65536", prefix + "\"mongodb://h:65536\": invalid port \"65536\" (must be 1 to 65535)"},
		 {"mongodb://h:12a", prefix + "\"mongodb://h:12a\": invalid port \"12a\" (must be 1 to 65535)"},
		 {"mongodb://h:", prefix + "\"mongodb://h:\": invalid port \"\" (must be 1 to 65535)"},
		 {"mongodb://::1", prefix + "\"mongodb://::1\": IPv6 address \"::1\" must be enclosed in brackets"},
		 {"mongodb://[::1", prefix + "\"mongodb://[::1\": invalid IPv6 address \"[::1\""},
		 {"mongodb://[::1]x", prefix + "\"mongodb://[::1]x\": unexpected text after IPv6 address \"[::1]x\""},
		 {"mongodb://h,", prefix + "\"mongodb://h,\": empty host in host list"},
		 {"mongodb://h?w=1", prefix + "\"mongodb://h?w=1\": a \"/\" is required between the host list and the options"},
		 {"mongodb://h/a.b", prefix + "\"mongodb://h/a.b\": invalid database name \"a.b\""},
		 {"mongodb://h/db?w", prefix + "\"mongodb://h/db?w\": invalid option \"w\" (options are key=value pairs)"},
		 {"mongodb://ho st", prefix + "\"mongodb://ho st\": invalid host name \"ho st\""},
		 {"mongodb+srv://u:secret@a.example.com:27017",
		  prefix + "\"mongodb+srv://u:***@a.example.com:27017\": a mongodb+srv URI must not specify a port"},
		 {"mongodb+srv://a.example.com,b.example.com",
		  prefix + "\"mongodb+srv://a.example.com,b.example.com\": a mongodb+srv URI must name exactly one host"},
		 {"mongodb+srv://localhost", prefix +
										 "\"mongodb+srv://localhost\": mongodb+srv host \"localhost\" must have at "
										 "least three parts"},
		 {"mongodb://u:p@secret@h/db", prefix + "\"mongodb://u:***@h/db\": password must percent-encode \":\", \"/\", "
												"\"?\", \"#\", \"[\", \"]\", \"@\" and \"%\""},
		 {"mongodb://:secret@h", prefix + "\"mongodb://:***@h\": empty user name"},
		 {"mongodb://u:se/cret@h/db", prefix + "\"mongodb://u:***@h/db\": invalid port \"***\" (must be 1 to 65535)"},
		 {"postgresql://u:secret@h", prefix + "\"postgresql://u:***@h\": unsupported scheme \"postgresql\""},
		 {"localhost:27017", prefix + "\"localhost:27017\": missing \"mongodb://\" or \"mongodb+srv://\" prefix"}});
}

TEST(CheckUri, Sqlite) {
	ExpectAccepted(Dialect::Sqlite, {"data/app.db", "/var/lib/app.db", "app.db", ":memory:", "file:app.db?mode=ro",
									 "file:///abs/app.db", "file://localhost/abs/app.db", "file::memory:?cache=shared",
									 "sqlite:///abs/path.db", "sqlite://rel.db", "C:\\data\\app.db"});
	std::string prefix = "invalid sqlite location ";
	ExpectRejected(Dialect::Sqlite,
				   {{"", prefix + "\"\": empty"},
					{"a\0b.db"s, prefix + "\"a\\0b.db\": contains a NUL byte"},
					{"mysql://u:secret@h/db", prefix + "\"mysql://u:***@h/db\": unsupported scheme \"mysql\""},
					{"sqlite://", prefix + "\"sqlite://\": no path after \"sqlite://\""},
					{"file://otherhost/x.db", prefix + "\"file://otherhost/x.db\": file URI host \"otherhost\" is "
													   "not supported"},
					{"file:x%zz.db", prefix + "\"file:x%zz.db\": file URI has an invalid percent-encoding"},
					{"file:?mode=ro", prefix + "\"file:?mode=ro\": file URI has no path"},
					{"data/", prefix + "\"data/\": path ends with \"/\" but a SQLite database is a file"}});
}

TEST(CheckUri, SqlDump) {
	ExpectAccepted(Dialect::SqlDump, {"dump.sql", "/var/backups/app.sql", "./out/app.sql",
									  "file:///var/backups/app.sql", "file://localhost/tmp/x%20y.sql"});
	std::string prefix = "invalid sqldump location ";
	ExpectRejected(
		Dialect::SqlDump,
		{{"", prefix + "\"\": empty"},
		 {"x\0.sql"s, prefix + "\"x\\0.sql\": contains a NUL byte"},
		 {"/var/backups/", prefix + "\"/var/backups/\": path ends with \"/\" but a SQL dump is a file"},
		 {"file:///var/backups/", prefix + "\"file:///var/backups/\": path ends with \"/\" but a SQL dump is a file"},
		 {"https://u:secret@h/x.sql", prefix + "\"https://u:***@h/x.sql\": unsupported scheme \"https\""},
		 {"file:dump.sql", prefix + "\"file:dump.sql\": file URI must start with \"file://\""},
		 {"file://dump.sql", prefix + "\"file://dump.sql\": file URI host \"dump.sql\" is not supported"},
		 {"file:///x.sql?y=1", prefix + "\"file:///x.sql?y=1\": file URI must not have a query or fragment"},
		 {"file://", prefix + "\"file://\": file URI has no path"}});
}

TEST(CheckUri, Jsonl) {
	ExpectAccepted(Dialect::Jsonl, {"/var/export/", "/var/export/app.jsonl", "out.jsonl", "file:///var/export/",
									"file:///var/export/app.jsonl", "export/"});
	std::string prefix = "invalid jsonl location ";
	ExpectRejected(
		Dialect::Jsonl,
		{{"", prefix + "\"\": empty"},
		 {"\0"s, prefix + "\"\\0\": contains a NUL byte"},
		 {"s3://key:secret@bucket/x", prefix + "\"s3://key:***@bucket/x\": unsupported scheme \"s3\""},
		 {"file:out.jsonl", prefix + "\"file:out.jsonl\": file URI must start with \"file://\""},
		 {"file://", prefix + "\"file://\": file URI has no path"},
		 {"file:///x%00.jsonl", prefix + "\"file:///x%00.jsonl\": file URI has an invalid percent-encoding"}});
}

TEST(CheckUri, HintsListAcceptedForms) {
	EXPECT_NE(mosta::CheckUri(Dialect::Postgres, "mysql://h")->hint.find("postgresql://"), std::string::npos);
	EXPECT_NE(mosta::CheckUri(Dialect::Mongodb, "h")->hint.find("mongodb+srv://"), std::string::npos);
	EXPECT_NE(mosta::CheckUri(Dialect::Sqlite, "")->hint.find(":memory:"), std::string::npos);
	EXPECT_NE(mosta::CheckUri(Dialect::SqlDump, "")->hint.find("file:///"), std::string::npos);
	EXPECT_NE(mosta::CheckUri(Dialect::Jsonl, "")->hint.find("directory"), std::string::npos);
}

} // namespace
