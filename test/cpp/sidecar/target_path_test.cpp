// target_path_test.cpp: the target-path policy (app/target_path.hpp): where a file target's URI resolves, what
// leads out of the data directory, and the sinks' refusal of files they did not create (one case per kind).
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include <filesystem>
#include <unistd.h>

#include "app/target_path.hpp"
#include "app/open_sink.hpp"
#include "sink/json_archive_sink.hpp"
#include "sink/sql_dump_sink.hpp"
#include "sink/sqlite_sink.hpp"

namespace sc = mosta::sidecar;
namespace fs = std::filesystem;

namespace {

// TargetPathTest gives each test a data directory (data/) and a sibling outside it (outside/).
class TargetPathTest : public ::testing::Test {
  protected:
	void
	SetUp() override {
		char pattern[] = "/tmp/mosta-target-path-XXXXXX";
		ASSERT_NE(mkdtemp(pattern), nullptr);
		base_ = fs::canonical(pattern);
		data_ = base_ / "data";
		outside_ = base_ / "outside";
		fs::create_directories(data_ / "sub");
		fs::create_directories(outside_);
	}

	void
	TearDown() override {
		fs::remove_all(base_);
	}

	// Replica returns a replica of dialect at uri.
	static sc::ReplicaInfo
	Replica(const std::string &dialect, const std::string &uri) {
		return {"p", "r", "slave", dialect, uri};
	}

	// Resolve resolves uri (sqlite) in data_.
	std::string
	Resolve(const std::string &uri, const std::string &dialect = "sqlite") {
		return sc::ResolveTargetPath(data_.string(), Replica(dialect, uri));
	}

	// Refusal returns what ResolveTargetPath throws for uri, or "no error".
	std::string
	Refusal(const std::string &uri, const std::string &dialect = "sqlite") {
		try {
			Resolve(uri, dialect);
		} catch (const sc::TargetPathError &e) {
			return e.what();
		}
		return "no error";
	}

	// OpenRefusal returns what OpenSink throws for a replica of dialect at uri, or "no error".
	std::string
	OpenRefusal(const std::string &dialect, const std::string &uri) {
		try {
			sc::OpenSink(Replica(dialect, uri), "mosta_r_r_00000000", data_.string());
		} catch (const std::exception &e) {
			return e.what();
		}
		return "no error";
	}

	static void
	Write(const fs::path &path, const std::string &text) {
		std::ofstream(path) << text;
	}

	static std::string
	Read(const fs::path &path) {
		std::ifstream in(path);
		return std::string(std::istreambuf_iterator<char>(in), {});
	}

	fs::path base_, data_, outside_;
};

} // namespace

TEST_F(TargetPathTest, RelativePathsResolveInTheDataDirectory) {
	EXPECT_EQ(Resolve("app.db"), (data_ / "app.db").string());
	EXPECT_EQ(Resolve("sub/app.db"), (data_ / "sub/app.db").string());
	EXPECT_EQ(Resolve("sqlite://sub/app.db"), (data_ / "sub/app.db").string());
	EXPECT_EQ(Resolve("file:app.db?mode=rwc"), (data_ / "app.db").string());
	EXPECT_EQ(Resolve("sub/../app.sql", "sqldump"), (data_ / "app.sql").string());
	EXPECT_EQ(Resolve("archive/", "jsonl"), (data_ / "archive").string());
	EXPECT_EQ(Resolve(":memory:"), ":memory:");
}

TEST_F(TargetPathTest, AbsolutePathsOnlyInsideTheDataDirectory) {
	EXPECT_EQ(Resolve((data_ / "app.db").string()), (data_ / "app.db").string());
	EXPECT_EQ(Resolve("file://" + (data_ / "a%20b.sql").string(), "sqldump"), (data_ / "a b.sql").string());
	EXPECT_EQ(Resolve("file://localhost" + (data_ / "x").string(), "jsonl"), (data_ / "x").string());
	std::string refusal = Refusal((outside_ / "app.db").string());
	EXPECT_NE(refusal.find("replica p.r (sqlite)"), std::string::npos) << refusal;
	EXPECT_NE(refusal.find("is not inside the data directory " + data_.string()), std::string::npos) << refusal;
	EXPECT_NE(Refusal("/etc/passwd", "sqldump").find("not inside"), std::string::npos);
	EXPECT_NE(Refusal(data_.string(), "jsonl").find("not inside"), std::string::npos);
	EXPECT_NE(Refusal("file://otherhost/x.db").find("names no file path"), std::string::npos);
}

TEST_F(TargetPathTest, DotDotOutIsRefused) {
	EXPECT_NE(Refusal("../outside/app.db").find("not inside"), std::string::npos);
	EXPECT_NE(Refusal("sub/../../outside/x.sql", "sqldump").find("not inside"), std::string::npos);
	EXPECT_NE(Refusal("missing/../../../etc/x", "jsonl").find("not inside"), std::string::npos);
	EXPECT_NE(Refusal((data_ / ".." / "outside" / "a.db").string()).find("not inside"), std::string::npos);
}

TEST_F(TargetPathTest, SymlinksOutAreRefusedSymlinksInAreFollowed) {
	fs::create_directory_symlink(outside_, data_ / "escape");
	EXPECT_NE(Refusal("escape/app.db").find("not inside"), std::string::npos);
	fs::create_symlink(outside_ / "target.sql", data_ / "dangling.sql");
	EXPECT_NE(Refusal("dangling.sql", "sqldump").find("a symbolic link to nothing"), std::string::npos);
	Write(outside_ / "real.db", "");
	fs::create_symlink(outside_ / "real.db", data_ / "link.db");
	EXPECT_NE(Refusal("link.db").find("not inside"), std::string::npos);
	fs::create_directory_symlink(data_ / "sub", data_ / "inner");
	EXPECT_EQ(Resolve("inner/app.db"), (data_ / "sub/app.db").string());
	// a data directory reached through a symlink still holds its targets
	fs::create_directory_symlink(data_, base_ / "alias");
	EXPECT_EQ(sc::ResolveTargetPath((base_ / "alias").string(), Replica("sqlite", (base_ / "alias/a.db").string())),
			  (data_ / "a.db").string());
}

TEST_F(TargetPathTest, MissingDataDirectoryIsATargetError) {
	std::string refusal;
	try {
		sc::ResolveTargetPath((base_ / "nope").string(), Replica("sqlite", "a.db"));
	} catch (const sc::TargetPathError &e) {
		refusal = e.what();
	}
	EXPECT_NE(refusal.find("the data directory " + (base_ / "nope").string() + " does not exist"), std::string::npos)
		<< refusal;
}

TEST_F(TargetPathTest, ForeignSqlDumpIsNeverOverwritten) {
	Write(data_ / "config.sql", "listen_addresses = '*'\n");
	std::string refusal = OpenRefusal("sqldump", "config.sql");
	EXPECT_NE(refusal.find("replica p.r (sqldump)"), std::string::npos) << refusal;
	EXPECT_NE(refusal.find("is not a mostajs SQL dump"), std::string::npos) << refusal;
	EXPECT_EQ(Read(data_ / "config.sql"), "listen_addresses = '*'\n");
	// its own dump, and a header cut by a crash, reopen
	EXPECT_EQ(OpenRefusal("sqldump", "own.sql"), "no error");
	EXPECT_EQ(OpenRefusal("sqldump", "own.sql"), "no error");
	Write(data_ / "cut.sql", "-- mostajs SQ");
	EXPECT_EQ(OpenRefusal("sqldump", "cut.sql"), "no error");
}

TEST_F(TargetPathTest, ForeignSqliteFileIsNeverWritten) {
	Write(data_ / "notes.db", "not a database, but someone's notes\n");
	std::string refusal = OpenRefusal("sqlite", "notes.db");
	EXPECT_NE(refusal.find("is not a SQLite database"), std::string::npos) << refusal;
	EXPECT_EQ(Read(data_ / "notes.db"), "not a database, but someone's notes\n");
	{
		sc::SqliteSinkOptions options;
		options.path = (data_ / "app.db").string();
		options.slot = "other";
		sc::SqliteSink own(options); // creates _mosta_checkpoint
	}
	EXPECT_EQ(OpenRefusal("sqlite", "app.db"), "no error");
	sqlite3 *raw = nullptr;
	ASSERT_EQ(sqlite3_open((data_ / "foreign.db").c_str(), &raw), SQLITE_OK);
	sqlite3_exec(raw, "CREATE TABLE accounts (id int)", nullptr, nullptr, nullptr);
	sqlite3_close(raw);
	auto size = fs::file_size(data_ / "foreign.db");
	refusal = OpenRefusal("sqlite", "foreign.db");
	EXPECT_NE(refusal.find("holds tables but no _mosta_checkpoint"), std::string::npos) << refusal;
	EXPECT_EQ(fs::file_size(data_ / "foreign.db"), size);
	EXPECT_FALSE(fs::exists(data_ / "foreign.db-wal"));
}

TEST_F(TargetPathTest, JsonArchiveTouchesOnlyItsOwnFiles) {
	fs::create_directories(data_ / "archive");
	Write(data_ / "archive" / "README", "kept\n");
	EXPECT_EQ(OpenRefusal("jsonl", "archive"), "no error");
	EXPECT_EQ(Read(data_ / "archive" / "README"), "kept\n");
	Write(data_ / "archive" / "archive-0000000000000010.jsonl", "important = yes\n");
	std::string refusal = OpenRefusal("jsonl", "archive");
	EXPECT_NE(refusal.find("has an archive file's name but not its content"), std::string::npos) << refusal;
	EXPECT_EQ(Read(data_ / "archive" / "archive-0000000000000010.jsonl"), "important = yes\n");
	fs::remove(data_ / "archive" / "archive-0000000000000010.jsonl");
	fs::create_symlink(outside_ / "x", data_ / "archive" / "archive-0000000000000020.jsonl");
	EXPECT_NE(OpenRefusal("jsonl", "archive").find("is a symbolic link"), std::string::npos);
	Write(data_ / "file", "x");
	EXPECT_NE(OpenRefusal("jsonl", "file").find("is not a directory"), std::string::npos);
}
