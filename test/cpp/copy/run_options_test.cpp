/*
 * run_options_test.cpp
 *     mosta-copy's command line (run/options): both seed forms of --source and --dest, every option, the
 *     --commandFile format (the seed's example included), and usage errors that name the option and hide
 *     passwords.
 */
#include <gtest/gtest.h>

#include <fstream>

#include "run/options.hpp"
#include "run_fakes.hpp"

namespace mosta::copy {
namespace {

using testing::TempDir;

Options
Parse(std::vector<std::string> args) {
	return ParseOptions(args);
}

// ExpectUsageError checks that args are refused with a message containing each of parts.
void
ExpectUsageError(std::vector<std::string> args, std::vector<std::string> parts) {
	try {
		ParseOptions(args);
		ADD_FAILURE() << "accepted: " << ::testing::PrintToString(args);
	} catch (const UsageError &e) {
		for (const std::string &part : parts)
			EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what() << " lacks " << part;
		EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
	}
}

TEST(RunOptions, SeedFormOfSourceAndDestinations) {
	Options o = Parse({"--source",
					   "db",
					   "--source-dialect",
					   "postgres",
					   "--source-uri",
					   "postgresql://devuser:pass@localhost:5432/fitzonedb",
					   "--dest",
					   "db",
					   "--dest-dialect",
					   "sqlite",
					   "--dest-uri",
					   "./backups/daily.sqlite",
					   "--dest",
					   "sql-dump",
					   "--dest-file",
					   "./backups/daily.sql",
					   "--dest",
					   "json",
					   "--dest-file",
					   "./backups/daily.json",
					   "--schemas",
					   ".mostajs/generated/entities.json",
					   "--create-tables",
					   "--batch-size",
					   "1000"});
	ASSERT_TRUE(o.source);
	EXPECT_EQ(o.source->kind, EndpointKind::Postgres);
	EXPECT_EQ(o.source->target, "postgresql://devuser:pass@localhost:5432/fitzonedb");
	ASSERT_EQ(o.destinations.size(), 3U);
	EXPECT_EQ(o.destinations[0].kind, EndpointKind::Sqlite);
	EXPECT_EQ(o.destinations[0].target, "./backups/daily.sqlite");
	EXPECT_EQ(o.destinations[1].kind, EndpointKind::SqlDump);
	EXPECT_EQ(o.destinations[1].target, "./backups/daily.sql");
	EXPECT_EQ(o.destinations[2].kind, EndpointKind::Json);
	EXPECT_EQ(o.schemas_file, ".mostajs/generated/entities.json");
	EXPECT_TRUE(o.destination_options.create_tables);
	EXPECT_EQ(o.destination_options.batch_size, 1000U);
	EXPECT_FALSE(o.verify);
}

TEST(RunOptions, ShortSourceForms) {
	struct Case {
		std::string text;
		EndpointKind kind;
		std::string target;
	} cases[] = {
		{"sqlite:/b/daily.sqlite", EndpointKind::Sqlite, "/b/daily.sqlite"},
		{"json:/b/daily.json", EndpointKind::Json, "/b/daily.json"},
		{"json:/b/json/", EndpointKind::Json, "/b/json/"},
		{"sql-dump:/b/daily.sql", EndpointKind::SqlDump, "/b/daily.sql"},
		{"postgres:postgresql://u@h/db", EndpointKind::Postgres, "postgresql://u@h/db"},
		{"postgresql://u@h:5432/db", EndpointKind::Postgres, "postgresql://u@h:5432/db"},
		{"postgres://u@h/db", EndpointKind::Postgres, "postgres://u@h/db"},
		{"host=/tmp dbname=x", EndpointKind::Postgres, "host=/tmp dbname=x"},
		{"sqlite:/b/x=1:2.sqlite", EndpointKind::Sqlite, "/b/x=1:2.sqlite"},
		{"postgres:host=/tmp dbname=x", EndpointKind::Postgres, "host=/tmp dbname=x"},
	};
	for (const Case &c : cases) {
		Options o = Parse({"--source", c.text, "--dest", "json", "--dest-file", "/tmp/o.json"});
		ASSERT_TRUE(o.source) << c.text;
		EXPECT_EQ(o.source->kind, c.kind) << c.text;
		EXPECT_EQ(o.source->target, c.target) << c.text;
	}
	Options o = Parse({"--source", "sqlite", "--source-file", "/b/x.sqlite", "--dest", "postgres", "--dest-uri",
					   "postgresql://u@h/restored"});
	EXPECT_EQ(o.source->kind, EndpointKind::Sqlite);
	EXPECT_EQ(o.source->target, "/b/x.sqlite");
	EXPECT_EQ(o.destinations[0].kind, EndpointKind::Postgres);
}

TEST(RunOptions, DestinationForms) {
	Options o = Parse({"--source",		  "postgresql://u@h/db",
					   "--dest",		  "sqlite",
					   "--dest-file",	  "a.sqlite",
					   "--dest",		  "mongodb",
					   "--dest-uri",	  "mongodb://h:27017/backup",
					   "--dest",		  "postgres",
					   "--dest-uri",	  "postgresql://u@h/copy",
					   "--dest",		  "db",
					   "--dest-dialect",  "mongodb",
					   "--dest-uri",	  "mongodb://h2:27017/b",
					   "--dest",		  "json:out/",
					   "--dest=sql-dump", "--dest-file=d.sql"});
	ASSERT_EQ(o.destinations.size(), 6U);
	EXPECT_EQ(o.destinations[1].kind, EndpointKind::Mongodb);
	EXPECT_EQ(o.destinations[2].kind, EndpointKind::Postgres);
	EXPECT_EQ(o.destinations[3].kind, EndpointKind::Mongodb);
	EXPECT_EQ(o.destinations[3].target, "mongodb://h2:27017/b");
	EXPECT_EQ(o.destinations[4].kind, EndpointKind::Json);
	EXPECT_EQ(o.destinations[4].target, "out/");
	EXPECT_EQ(o.destinations[5].kind, EndpointKind::SqlDump);
	EXPECT_EQ(o.destinations[5].target, "d.sql");
}

TEST(RunOptions, EveryOtherOption) {
	Options o = Parse({"--source",
					   "postgresql://u@h/db",
					   "--dest",
					   "json",
					   "--dest-file",
					   "o.json",
					   "--jobs",
					   "4",
					   "--tables",
					   "app.*,zoo.t1",
					   "--tables",
					   "x",
					   "--exclude",
					   "app.log*",
					   "--manifest",
					   "m.json",
					   "--keep",
					   "7",
					   "--progress",
					   "--quiet",
					   "--no-writer-threads",
					   "--batch-size=5000"});
	EXPECT_EQ(o.destination_options.jobs, 4);
	EXPECT_EQ(o.tables, (std::vector<std::string>{"app.*", "zoo.t1", "x"}));
	EXPECT_EQ(o.exclude, (std::vector<std::string>{"app.log*"}));
	EXPECT_EQ(o.manifest, "m.json");
	EXPECT_EQ(o.keep, 7);
	EXPECT_EQ(o.progress, ProgressMode::On);
	EXPECT_TRUE(o.quiet);
	EXPECT_FALSE(o.writer_threads);
	EXPECT_EQ(o.destination_options.batch_size, 5000U);
	EXPECT_EQ(Parse({"--source", "postgresql://u@h/db", "--dest", "json", "--dest-file", "o.json", "--no-progress",
					 "-j", "2"})
				  .progress,
			  ProgressMode::Off);
	EXPECT_TRUE(Parse({"--help"}).help);
	EXPECT_TRUE(Parse({"-h"}).help);
	EXPECT_TRUE(Parse({"--version"}).version);
	EXPECT_NE(HelpText().find("Exit status: 0 success, 1 failure"), std::string::npos);
	EXPECT_NE(VersionText().find("mosta-copy "), std::string::npos);
}

TEST(RunOptions, Verify) {
	Options o = Parse({"verify", "b/daily.manifest.json", "--against", "postgresql://u@h/db", "--jobs", "3"});
	EXPECT_TRUE(o.verify);
	EXPECT_EQ(o.verify_manifest, "b/daily.manifest.json");
	EXPECT_EQ(o.against, "postgresql://u@h/db");
	EXPECT_EQ(o.destination_options.jobs, 3);
	ExpectUsageError({"verify"}, {"verify needs a manifest"});
	ExpectUsageError({"verify", "a", "b"}, {"one manifest", "\"b\""});
	ExpectUsageError({"verify", "m", "--dest", "json"}, {"--dest", "does not apply to verify"});
	ExpectUsageError({"--source", "postgresql://u@h/db", "--against", "x"}, {"--against", "verify only"});
}

TEST(RunOptions, UsageErrorsNameTheOption) {
	const std::string src = "postgresql://u:secret@h/db";
	ExpectUsageError({}, {"no --source"});
	ExpectUsageError({"--source", src}, {"no --dest"});
	ExpectUsageError({"--source", src, "--dest", "db", "--dest-uri", "x"}, {"--dest db needs --dest-dialect"});
	ExpectUsageError({"--source", src, "--dest", "db", "--dest-dialect", "oracle", "--dest-uri", "x"},
					 {"\"oracle\"", "--dest-dialect"});
	ExpectUsageError({"--source", src, "--dest", "db", "--dest-dialect", "json", "--dest-uri", "x"},
					 {"--dest-dialect", "--dest sql-dump|json"});
	ExpectUsageError({"--source", src, "--dest", "parquet", "--dest-file", "x"}, {"\"parquet\"", "--dest"});
	ExpectUsageError({"--source", src, "--dest", "sqlite"}, {"--dest sqlite needs --dest-file"});
	ExpectUsageError({"--source", src, "--dest", "postgres"}, {"--dest postgres needs --dest-uri"});
	ExpectUsageError({"--source", src, "--dest-file", "x"}, {"--dest-file must follow --dest"});
	ExpectUsageError({"--source", src, "--dest", "sqlite", "--dest-file", "a", "--dest-uri", "b"},
					 {"--dest-uri given twice"});
	ExpectUsageError({"--source", src, "--dest", "sqlite:a", "--dest-file", "b"}, {"--dest-file given twice"});
	ExpectUsageError({"--source", src, "--dest", "sqlite", "--dest-file", ""}, {"--dest-file", "expected a file path"});
	ExpectUsageError({"--source", src, "--dest", "mongodb", "--dest-uri", "http://x"}, {"--dest-uri"});
	ExpectUsageError({"--source", "postgresql://u:secret@h:notaport/db", "--dest", "json", "--dest-file", "o"},
					 {"--source"});
	ExpectUsageError({"--source", "ftp://u:secret@h/x", "--dest", "json", "--dest-file", "o"},
					 {"--source", "KIND:TARGET"});
	ExpectUsageError({"--source", "mongodb://u:secret@h/db", "--dest", "json", "--dest-file", "o"},
					 {"--source mongodb", "verify"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--dest", "json", "--dest-file", "o"},
					 {"given twice"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--batch-size", "0"},
					 {"\"0\"", "--batch-size"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--batch-size", "ten"},
					 {"\"ten\"", "--batch-size"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--jobs", "0"}, {"--jobs"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--jobs", "999"}, {"--jobs", "64"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--keep", "-1"}, {"--keep"});
	ExpectUsageError({"--source", src, "--dest", "postgres", "--dest-uri", "postgresql://h/x", "--keep", "3"},
					 {"--keep", "file --dest"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--tables", "a,,b"}, {"--tables"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--exclude", ""}, {"--exclude"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--manifest", "dir/"}, {"--manifest"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--bogus"}, {"unknown option", "--bogus"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--jobs"}, {"missing value for --jobs"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--quiet=yes"},
					 {"--quiet takes no value"});
	ExpectUsageError({"--source", src, "--dest", "json", "--dest-file", "o", "--commandFile", "/nonexistent/x.conf"},
					 {"--commandFile", "/nonexistent/x.conf"});
}

TEST(RunOptions, SplitCommandText) {
	std::vector<CommandWord> words = SplitCommandText("# a comment\n"
													  "--a \"quoted value\" 'single $x' plain # trailing\n"
													  "\n"
													  "--b=\"x y\" esc\\ aped \"in \\\"q\\\"\"\n"
													  "--c value#hash\n",
													  "f");
	std::vector<std::pair<std::string, int>> got;
	for (const CommandWord &word : words)
		got.push_back({word.text, word.line});
	std::vector<std::pair<std::string, int>> want = {
		{"--a", 2},		 {"quoted value", 2}, {"single $x", 2}, {"plain", 2},	   {"--b=x y", 4},
		{"esc aped", 4}, {"in \"q\"", 4},	  {"--c", 5},		{"value#hash", 5},
	};
	EXPECT_EQ(got, want);
	try {
		SplitCommandText("--a ok\n--b \"unterminated\n", "backup.conf");
		ADD_FAILURE() << "unterminated quote accepted";
	} catch (const UsageError &e) {
		EXPECT_NE(std::string(e.what()).find("backup.conf:2: unterminated double quote"), std::string::npos)
			<< e.what();
	}
}

TEST(RunOptions, CommandFileSeedExample) {
	TempDir dir;
	std::ofstream(dir / "backup-daily.conf")
		<< "# backup-daily.conf: the seed's nightly backup\n"
		   "--source db --source-dialect postgres --source-uri \"postgresql://devuser:pass@localhost:5432/fitzonedb\"\n"
		   "--dest db        --dest-dialect sqlite --dest-uri \"./backups/daily.sqlite\"\n"
		   "--dest sql-dump  --dest-file \"./backups/daily.sql\"\n"
		   "--dest json      --dest-file \"./backups/daily.json\"\n"
		   "--schemas .mostajs/generated/entities.json --create-tables --batch-size 1000\n";
	Options o = Parse({"--commandFile", dir / "backup-daily.conf"});
	ASSERT_TRUE(o.source);
	EXPECT_EQ(o.source->target, "postgresql://devuser:pass@localhost:5432/fitzonedb");
	ASSERT_EQ(o.destinations.size(), 3U);
	EXPECT_EQ(o.destinations[0].kind, EndpointKind::Sqlite);
	EXPECT_EQ(o.destinations[0].target, "./backups/daily.sqlite");
	EXPECT_EQ(o.destinations[1].kind, EndpointKind::SqlDump);
	EXPECT_EQ(o.destinations[2].kind, EndpointKind::Json);
	EXPECT_EQ(o.destinations[2].target, "./backups/daily.json");
	EXPECT_EQ(o.schemas_file, ".mostajs/generated/entities.json");
	EXPECT_TRUE(o.destination_options.create_tables);
	EXPECT_EQ(o.destination_options.batch_size, 1000U);

	// options after it override (--batch-size, --source) or add (--dest)
	Options later = Parse({"--commandFile", dir / "backup-daily.conf", "--batch-size", "50", "--dest", "mongodb",
						   "--dest-uri", "mongodb://h/b", "--source", "postgresql://other@h/db"});
	EXPECT_EQ(later.destination_options.batch_size, 50U);
	EXPECT_EQ(later.destinations.size(), 4U);
	EXPECT_EQ(later.source->target, "postgresql://other@h/db");
}

TEST(RunOptions, CommandFileErrorsNameFileAndLine) {
	TempDir dir;
	std::ofstream(dir / "bad.conf") << "--source postgresql://u:secret@h/db\n\n--dest json --dest-file o.json\n"
									   "--batch-size lots\n";
	ExpectUsageError({"--commandFile", dir / "bad.conf"}, {"bad.conf:4:", "--batch-size", "\"lots\""});
	std::ofstream(dir / "nested.conf") << "--commandFile other.conf\n";
	ExpectUsageError({"--commandFile", dir / "nested.conf"}, {"nested.conf:1:", "inside a command file"});
	std::ofstream(dir / "typo.conf") << "--source postgresql://u:secret@h/db --dest json --dest-file o --tabels x\n";
	ExpectUsageError({"--commandFile", dir / "typo.conf"}, {"typo.conf:1:", "unknown option \"--tabels\""});
}

} // namespace
} // namespace mosta::copy
