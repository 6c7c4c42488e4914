/*
 * run_command_test.cpp
 *     One run as cron runs it (run/copy_command, run/manifest, run/rotation, run/verify), with fake endpoints
 *     writing real files: the manifest's contents and place, the summary line and exit codes, --keep rotation on
 *     a temporary directory, and verify catching a corrupted file and a database changed since the backup.
 */
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "run/copy_command.hpp"
#include "run/manifest.hpp"
#include "run/rotation.hpp"
#include "run/verify.hpp"
#include "run_fakes.hpp"

namespace mosta::copy {
namespace {

namespace fs = std::filesystem;
using testing::FakeDestination;
using testing::FakeSource;
using testing::MakeTable;
using testing::TempDir;

void
Fill(FakeSource &source) {
	source.schema.tables = {MakeTable("app", "users", {"id", "name"}, 3), MakeTable("zoo", "t1", {"v"}, 0)};
	source.rows["app.users"] = {{"1", "ann"}, {"2", std::nullopt}, {"3", "cy"}};
	source.rows["zoo.t1"] = {};
}

// Captured is a FILE* whose text a test reads back.
class Captured {
  public:
	Captured() : file_(std::tmpfile()) {}
	~Captured() {
		std::fclose(file_);
	}
	std::FILE *
	File() {
		return file_;
	}
	std::string
	Text() {
		std::fflush(file_);
		std::rewind(file_);
		std::string text;
		char buffer[4096];
		std::size_t n;
		while ((n = std::fread(buffer, 1, sizeof buffer, file_)) > 0)
			text.append(buffer, n);
		return text;
	}

  private:
	std::FILE *file_;
};

// CopyRunner runs a copy with fake endpoints; destinations receives the fakes made.
struct CopyRunner {
	std::vector<FakeDestination *> destinations;
	std::string fail_table;
	const std::atomic<bool> *stop = nullptr;
	Captured err;

	int
	operator()(const Options &options, std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
		EndpointFactory factory;
		factory.source = [](const Endpoint &, int) {
			auto source = std::make_unique<FakeSource>();
			Fill(*source);
			return source;
		};
		factory.destination = [this](const Endpoint &endpoint, const DestinationOptions &) {
			bool file = IsFileKind(endpoint.kind);
			auto destination = std::make_unique<FakeDestination>(ValueForm::Canonical, file ? endpoint.target : "",
																 EndpointKindName(endpoint.kind));
			destination->fail_table = fail_table;
			destinations.push_back(destination.get());
			return destination;
		};
		return RunCopyCommand(options, err.File(), stop, factory, now);
	}
};

Options
Backup(const TempDir &dir) {
	return ParseOptions({"--source", "postgresql://u:secret@h/db", "--dest", "sqlite", "--dest-file",
						 dir / "daily.sqlite", "--dest", "json", "--dest-file", dir / "daily.json", "--dest", "mongodb",
						 "--dest-uri", "mongodb://u:secret@h/backup", "--quiet"});
}

std::string
ReadFile(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

TEST(RunCommand, WritesTheManifestLastNextToTheFirstFile) {
	TempDir dir;
	CopyRunner run;
	ASSERT_EQ(run(Backup(dir)), 0) << run.err.Text();
	std::string err = run.err.Text();
	EXPECT_NE(err.find("mosta-copy: ok: 2 tables, 3 rows, 3 destinations, "), std::string::npos) << err;
	EXPECT_NE(err.find("(snapshot 0/16B3748)"), std::string::npos) << err;
	EXPECT_EQ(err.find("secret"), std::string::npos) << err;

	std::string path = dir / "daily.manifest.json";
	ASSERT_TRUE(fs::exists(path));
	std::string text = ReadFile(path);
	EXPECT_EQ(text.find("secret"), std::string::npos) << text;
	Manifest manifest = ReadManifest(path);
	EXPECT_EQ(manifest.tool.rfind("mosta-copy ", 0), 0U);
	EXPECT_EQ(manifest.snapshot.lsn, "0/16B3748");
	EXPECT_EQ(manifest.snapshot.source, "postgresql://u:***@h/db");
	ASSERT_EQ(manifest.schema.tables.size(), 2U);
	ASSERT_EQ(manifest.tables.size(), 2U);
	EXPECT_EQ(manifest.tables[0].schema, "app");
	EXPECT_EQ(manifest.tables[0].name, "users");
	EXPECT_EQ(manifest.tables[0].rows, 3U);
	EXPECT_EQ(manifest.tables[0].checksum.size(), 64U);
	ASSERT_EQ(manifest.files.size(), 2U); // the MongoDB fake lists nothing
	EXPECT_EQ(manifest.files[0].kind, "sqlite");
	EXPECT_EQ(manifest.files[0].path, dir / "daily.sqlite");					   // resolved by ReadManifest
	EXPECT_NE(text.find("\"path\": \"daily.sqlite\""), std::string::npos) << text; // stored relative
	std::uint64_t bytes = 0;
	EXPECT_EQ(manifest.files[0].crc32c, FileCrc32c(dir / "daily.sqlite", &bytes));
	EXPECT_EQ(manifest.files[0].bytes, bytes);
	// no temporary left
	for (const fs::directory_entry &entry : fs::directory_iterator(dir.Path()))
		EXPECT_EQ(entry.path().string().find(".mosta-tmp."), std::string::npos) << entry.path();
}

TEST(RunCommand, ManifestOptionAndNoManifestForARestore) {
	TempDir dir;
	CopyRunner run;
	Options options = Backup(dir);
	options.manifest = dir / "sub-manifest.json";
	ASSERT_EQ(run(options), 0) << run.err.Text();
	EXPECT_TRUE(fs::exists(dir / "sub-manifest.json"));
	EXPECT_FALSE(fs::exists(dir / "daily.manifest.json"));

	CopyRunner restore;
	Options to_pg = ParseOptions({"--source", "sqlite:" + (dir / "daily.sqlite"), "--dest", "postgres", "--dest-uri",
								  "postgresql://u@h/restored", "--quiet"});
	ASSERT_EQ(restore(to_pg), 0) << restore.err.Text();
	EXPECT_EQ(restore.err.Text().find("manifest"), std::string::npos) << restore.err.Text();
}

TEST(RunCommand, FailureWritesNothingAndSaysWhy) {
	TempDir dir;
	CopyRunner run;
	run.fail_table = "app.users";
	EXPECT_EQ(run(Backup(dir)), 1);
	std::string err = run.err.Text();
	EXPECT_NE(err.find("mosta-copy: FAILED: fake write failure in app.users"), std::string::npos) << err;
	EXPECT_FALSE(fs::exists(dir / "daily.manifest.json"));
	EXPECT_FALSE(fs::exists(dir / "daily.sqlite"));
	for (FakeDestination *d : run.destinations)
		EXPECT_TRUE(d->Called("abort")) << d->kind;
}

TEST(RunCommand, AStopAbortsAndExits1) {
	TempDir dir;
	std::atomic<bool> stop{true};
	CopyRunner run;
	run.stop = &stop;
	EXPECT_EQ(run(Backup(dir)), 1);
	EXPECT_NE(run.err.Text().find("mosta-copy: FAILED: stopped by a signal"), std::string::npos) << run.err.Text();
	EXPECT_FALSE(std::filesystem::exists(dir / "daily.manifest.json"));
	EXPECT_FALSE(std::filesystem::exists(dir / "daily.sqlite"));
}

TEST(RunCommand, SelectionErrorsAreUsageErrors) {
	TempDir dir;
	CopyRunner run;
	Options options = Backup(dir);
	options.tables = {"nosuch.*"};
	EXPECT_EQ(run(options), 2);
	EXPECT_NE(run.err.Text().find("mosta-copy: FAILED: --tables nosuch.* matches no table"), std::string::npos)
		<< run.err.Text();
	CopyRunner entities;
	options = Backup(dir);
	std::ofstream(dir / "entities.json") << R"([{"collection": "users", "schema": "app"}, {"collection": "ghost"}])";
	options.schemas_file = dir / "entities.json";
	EXPECT_EQ(entities(options), 2);
	EXPECT_NE(entities.err.Text().find("the source has no table \"ghost\""), std::string::npos) << entities.err.Text();
	CopyRunner ok;
	std::ofstream(dir / "entities.json") << R"({"entities": [{"collection": "users", "schema": "app"}]})";
	ASSERT_EQ(ok(options), 0) << ok.err.Text();
	EXPECT_EQ(ReadManifest(dir / "daily.manifest.json").tables.size(), 1U);
}

TEST(RunCommand, RefusesTwoFilesUnderOneName) {
	TempDir dir;
	CopyRunner run;
	Options options = ParseOptions({"--source", "postgresql://u@h/db", "--dest", "sqlite", "--dest-file", dir / "daily",
									"--dest", "json", "--dest-file", dir / "./daily", "--quiet"});
	EXPECT_EQ(run(options), 2);
	EXPECT_NE(run.err.Text().find("--dest json and --dest sqlite are the same file"), std::string::npos)
		<< run.err.Text();
	CopyRunner manifest;
	options = Backup(dir);
	options.manifest = dir / "daily.json";
	EXPECT_EQ(manifest(options), 2);
	EXPECT_NE(manifest.err.Text().find("the manifest and --dest json are the same file"), std::string::npos)
		<< manifest.err.Text();
	EXPECT_TRUE(run.destinations.empty() && manifest.destinations.empty()) << "refused before anything opened";
}

TEST(RunCommand, PlainProgressLines) {
	TempDir dir;
	CopyRunner run;
	Options options = Backup(dir);
	options.quiet = false;
	ASSERT_EQ(run(options), 0);
	std::string err = run.err.Text();
	EXPECT_NE(err.find("mosta-copy: app.users: 3 rows, "), std::string::npos) << err;
	EXPECT_NE(err.find("mosta-copy: zoo.t1: 0 rows, "), std::string::npos) << err;
	EXPECT_EQ(err.find("\033["), std::string::npos) << "no terminal codes when not on a terminal";
}

TEST(RunRotation, DatedNames) {
	EXPECT_EQ(SplitExtension("daily.sqlite"), (std::pair<std::string, std::string>{"daily", ".sqlite"}));
	EXPECT_EQ(SplitExtension("daily.manifest.json"), (std::pair<std::string, std::string>{"daily", ".manifest.json"}));
	EXPECT_EQ(SplitExtension("daily"), (std::pair<std::string, std::string>{"daily", ""}));
	EXPECT_EQ(SplitExtension(".hidden"), (std::pair<std::string, std::string>{".hidden", ""}));
	EXPECT_EQ(DatedPath("./backups/daily.sqlite", "20261207T020000Z"), "./backups/daily-20261207T020000Z.sqlite");
	EXPECT_EQ(DatedPath("b/json/", "20261207T020000Z"), "b/json-20261207T020000Z/");
	EXPECT_EQ(DatedPath("daily.manifest.json", "20261207T020000Z"), "daily-20261207T020000Z.manifest.json");
	EXPECT_EQ(RunStamp(std::chrono::system_clock::from_time_t(1796608800)), "20261207T020000Z");
	EXPECT_EQ(DefaultManifestPath({{EndpointKind::Mongodb, "mongodb://h/b"}, {EndpointKind::Json, "b/json/"}}),
			  "b/json.manifest.json");
	EXPECT_EQ(DefaultManifestPath({{EndpointKind::Postgres, "postgresql://h/b"}}), "");
}

TEST(RunRotation, KeepsTheNewestDatedBackupsOnly) {
	TempDir dir;
	// files that do not match the pattern are never touched
	for (const char *name : {"daily.sqlite", "daily-latest.sqlite", "other-20200101T000000Z.sqlite",
							 "daily-20200101T000000Z.sqlite.bak", "daily-2020010T000000Z.sqlite"})
		std::ofstream(dir / name) << "x";
	auto day = [](int n) { return std::chrono::system_clock::from_time_t(1796608800 + n * 86400); };
	Options options =
		ParseOptions({"--source", "postgresql://u@h/db", "--dest", "sqlite", "--dest-file", dir / "daily.sqlite",
					  "--dest", "json", "--dest-file", dir / "daily.json", "--keep", "2", "--quiet"});
	for (int n = 0; n < 4; ++n) {
		CopyRunner run;
		ASSERT_EQ(run(options, day(n)), 0) << run.err.Text();
		EXPECT_NE(run.err.Text().find("daily-" + RunStamp(day(n)) + ".manifest.json"), std::string::npos)
			<< run.err.Text();
	}
	std::vector<std::string> names;
	for (const fs::directory_entry &entry : fs::directory_iterator(dir.Path()))
		names.push_back(entry.path().filename().string());
	std::sort(names.begin(), names.end());
	std::vector<std::string> want = {"daily-20200101T000000Z.sqlite.bak",
									 "daily-2020010T000000Z.sqlite",
									 "daily-20261209T020000Z.json",
									 "daily-20261209T020000Z.manifest.json",
									 "daily-20261209T020000Z.sqlite",
									 "daily-20261210T020000Z.json",
									 "daily-20261210T020000Z.manifest.json",
									 "daily-20261210T020000Z.sqlite",
									 "daily-latest.sqlite",
									 "daily.sqlite",
									 "other-20200101T000000Z.sqlite"};
	EXPECT_EQ(names, want);
}

// Verifier opens the files of a manifest as fake sources holding rows (changed ones for the database).
struct Verifier {
	bool change_database = false;
	bool change_mongo = false;
	bool quiet = false;
	Captured out;
	Captured err;

	int
	operator()(const std::string &manifest, const std::string &against = "") {
		Options options;
		options.verify = true;
		options.verify_manifest = manifest;
		options.against = against;
		options.quiet = quiet;
		auto open = [this](const Endpoint &endpoint, const DatabaseSchema &) -> std::unique_ptr<Source> {
			auto source = std::make_unique<FakeSource>();
			Fill(*source);
			if (endpoint.kind == EndpointKind::Postgres && change_database)
				source->rows["app.users"][1][1] = "bea";
			if (endpoint.kind == EndpointKind::Mongodb && change_mongo)
				source->rows["app.users"][1][1] = "as stored";
			return source;
		};
		return RunVerifyCommand(options, out.File(), err.File(), nullptr, open);
	}
};

TEST(RunVerify, AgreesThenCatchesCorruptionAndChanges) {
	TempDir dir;
	CopyRunner run;
	ASSERT_EQ(run(Backup(dir)), 0) << run.err.Text();
	const std::string manifest = dir / "daily.manifest.json";

	Verifier good;
	EXPECT_EQ(good(manifest, "postgresql://u:secret@h/db"), 0) << good.out.Text() << good.err.Text();
	std::string lines = good.out.Text();
	EXPECT_NE(lines.find("ok " + (dir / "daily.sqlite") + ": "), std::string::npos) << lines;
	EXPECT_NE(lines.find("ok " + (dir / "daily.json") + " app.users: 3 rows, checksum "), std::string::npos) << lines;
	EXPECT_NE(lines.find("ok postgresql://u:***@h/db zoo.t1: 0 rows"), std::string::npos) << lines;
	EXPECT_EQ(lines.find("MISMATCH"), std::string::npos) << lines;
	EXPECT_EQ(lines.find("secret"), std::string::npos) << lines;

	Verifier changed;
	changed.change_database = true;
	EXPECT_EQ(changed(manifest, "postgresql://u@h/db"), 1);
	lines = changed.out.Text();
	EXPECT_NE(lines.find("MISMATCH postgresql://u@h/db app.users: differs since the backup: checksum "),
			  std::string::npos)
		<< lines;
	EXPECT_NE(changed.err.Text().find("verify FAILED"), std::string::npos);

	Verifier quiet;
	quiet.quiet = true;
	quiet.change_database = true;
	EXPECT_EQ(quiet(manifest, "postgresql://u@h/db"), 1);
	EXPECT_EQ(quiet.out.Text().find("ok "), std::string::npos) << "--quiet: only the differences";
	EXPECT_NE(quiet.out.Text().find("MISMATCH postgresql://u@h/db app.users"), std::string::npos) << quiet.out.Text();

	// one byte changed in the SQLite file
	{
		std::fstream file(dir / "daily.sqlite", std::ios::in | std::ios::out | std::ios::binary);
		char c = 0;
		file.read(&c, 1);
		file.seekp(0);
		c = static_cast<char>(c ^ 0x20);
		file.write(&c, 1);
	}
	Verifier corrupted;
	EXPECT_EQ(corrupted(manifest), 1);
	lines = corrupted.out.Text();
	EXPECT_NE(lines.find("MISMATCH " + (dir / "daily.sqlite") + ": "), std::string::npos) << lines;
	EXPECT_NE(lines.find("ok " + (dir / "daily.json") + ": "), std::string::npos) << lines;

	// a file gone
	fs::remove(dir / "daily.json");
	Verifier missing;
	EXPECT_EQ(missing(manifest), 1);
	EXPECT_NE(missing.out.Text().find("FAILED " + (dir / "daily.json")), std::string::npos) << missing.out.Text();

	// not a manifest: exit 2
	std::ofstream(dir / "bogus.json") << R"({"format": "something else", "version": 1})";
	Verifier bogus;
	EXPECT_EQ(bogus(dir / "bogus.json"), 2);
	EXPECT_NE(bogus.err.Text().find("not a mosta-copy manifest: format"), std::string::npos) << bogus.err.Text();
	Verifier absent;
	EXPECT_EQ(absent(dir / "absent.json"), 2);
}

TEST(RunVerify, AMongoDbCopyIsCheckedAgainstItsOwnChecksums) {
	TempDir dir;
	FakeSource source;
	Fill(source);
	FakeSource stored; // what the MongoDB mapping kept: one value differs
	Fill(stored);
	stored.rows["app.users"][1][1] = "as stored";
	Manifest manifest;
	manifest.schema = source.schema;
	ManifestFile mongo{{"mongodb", "mongodb://h/b", 0, ""}, {}, {}};
	for (const TableDef &table : source.schema.tables) {
		manifest.tables.push_back(ReadTable(source, table, 10));
		TableResult as_stored = ReadTable(stored, table, 10);
		std::uint64_t inexact = table.name == "users" ? 1 : 0;
		mongo.tables.push_back({table.schema, table.name, as_stored.rows, as_stored.checksum, inexact,
								inexact ? std::vector<std::string>{"name"} : std::vector<std::string>{}});
	}
	ASSERT_NE(manifest.tables[0].checksum, mongo.tables[0].checksum);
	manifest.files = {mongo};
	WriteManifest(dir / "m.manifest.json", manifest);

	Verifier as_written;
	as_written.change_mongo = true;
	EXPECT_EQ(as_written(dir / "m.manifest.json", "postgresql://h/db"), 0) << as_written.out.Text();
	EXPECT_NE(as_written.out.Text().find("ok mongodb://h/b app.users: 3 rows, checksum " + mongo.tables[0].checksum +
										 " (as written: 1 rows differ from the source in name"),
			  std::string::npos)
		<< as_written.out.Text();
	EXPECT_NE(
		as_written.out.Text().find("ok postgresql://h/db app.users: 3 rows, checksum " + manifest.tables[0].checksum),
		std::string::npos)
		<< as_written.out.Text();
	Verifier changed; // the collection holds the source's value, not what was written: a change
	EXPECT_EQ(changed(dir / "m.manifest.json"), 1);
	EXPECT_NE(changed.out.Text().find("MISMATCH mongodb://h/b app.users: "), std::string::npos) << changed.out.Text();
}

TEST(RunManifest, RoundTripAndRefusals) {
	Manifest manifest;
	manifest.tool = "mosta-copy 9.9";
	manifest.created = UtcTimeText(1796608800);
	EXPECT_EQ(manifest.created, "2026-12-07T02:00:00Z");
	manifest.snapshot.lsn = "0/1";
	manifest.snapshot.source = "postgresql://u:secret@h/db";
	manifest.schema.tables = {MakeTable("a", "b\"q", {"x"})};
	manifest.tables = {{"a", "b\"q", 5, 0, std::string(64, 'f')}};
	manifest.files = {
		ManifestFile{{"json", "/abs/x.json", 12, "0badf00d"}, {}, {}},
		ManifestFile{
			{"mongodb", "mongodb://u:secret@h/b", 0, ""}, {}, {{"a", "b\"q", 5, std::string(64, 'e'), 2, {"j", "jb"}}}},
		ManifestFile{{"json", "/abs/dir/", 30, ""},
					 {{"json", "/abs/dir/a.json", 10, "00000001"}, {"json", "/abs/dir/b.json", 20, "00000002"}},
					 {}}};
	manifest.elapsed_ms = 42;
	std::string text = ManifestToJson(manifest);
	EXPECT_EQ(text.find("secret"), std::string::npos) << text;
	Manifest back = ManifestFromJson(text, "m");
	EXPECT_EQ(back.tool, manifest.tool);
	EXPECT_EQ(back.created, manifest.created);
	EXPECT_EQ(back.tables.size(), 1U);
	EXPECT_EQ(back.tables[0].name, "b\"q");
	EXPECT_EQ(back.tables[0].rows, 5U);
	ASSERT_EQ(back.files.size(), 3U);
	ASSERT_EQ(back.files[2].parts.size(), 2U);
	EXPECT_EQ(back.files[2].parts[1].path, "/abs/dir/b.json");
	EXPECT_EQ(back.files[2].parts[1].bytes, 20U);
	EXPECT_EQ(back.files[2].parts[1].crc32c, "00000002");
	EXPECT_EQ(back.files[0].crc32c, "0badf00d");
	EXPECT_EQ(back.files[1].path, "mongodb://u:***@h/b");
	ASSERT_EQ(back.files[1].tables.size(), 1U);
	EXPECT_EQ(back.files[1].tables[0].name, "b\"q");
	EXPECT_EQ(back.files[1].tables[0].checksum, std::string(64, 'e'));
	EXPECT_EQ(back.files[1].tables[0].inexact_rows, 2U);
	EXPECT_EQ(back.files[1].tables[0].inexact_columns, (std::vector<std::string>{"j", "jb"}));
	EXPECT_TRUE(back.files[0].tables.empty());
	EXPECT_EQ(back.elapsed_ms, 42);
	EXPECT_EQ(back.schema.tables.at(0).name, "b\"q");
	EXPECT_THROW(ManifestFromJson("{\"format\": \"mostajs.copy.manifest\", \"version\": 2}", "m"), CopyError);
	EXPECT_THROW(ManifestFromJson("[]", "m"), CopyError);
	EXPECT_THROW(ManifestFromJson("{", "m"), CopyError);
}

} // namespace
} // namespace mosta::copy
