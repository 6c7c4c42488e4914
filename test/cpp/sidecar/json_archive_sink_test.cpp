/*
 * json_archive_sink_test.cpp
 *     Tests of the JSON archive sink in temporary directories: documents archived verbatim between begin and
 *     commit lines, reopen, recovery after a crash that cut a transaction, rotation at transaction boundaries,
 *     Rollback and a monotonic DurableLsn.
 */
#include "sink/json_archive_sink.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using mosta::sidecar::JsonArchiveSink;
using mosta::sidecar::Lsn;
using mosta::sidecar::ParseChange;

// TempDir is a fresh temporary directory, removed afterwards.
class TempDir {
  public:
	TempDir() {
		std::string pattern = (std::filesystem::temp_directory_path() / "mosta-archive-XXXXXX").string();
		path_ = mkdtemp(pattern.data());
	}
	~TempDir() {
		std::filesystem::remove_all(path_);
	}
	std::string
	Path() const {
		return path_.string();
	}

  private:
	std::filesystem::path path_;
};

// ReadAll returns the file's content.
std::string
ReadAll(const std::filesystem::path &path) {
	std::ifstream in(path, std::ios::binary);
	std::stringstream text;
	text << in.rdbuf();
	return text.str();
}

// Files returns the directory's file names, sorted.
std::vector<std::string>
Files(const std::string &directory) {
	std::vector<std::string> names;
	for (const auto &entry : std::filesystem::directory_iterator(directory))
		names.push_back(entry.path().filename().string());
	std::sort(names.begin(), names.end());
	return names;
}

// Transaction archives documents as one source transaction ending at end_lsn (commit_lsn = end_lsn - 8).
void
Transaction(JsonArchiveSink &sink, Lsn end_lsn, const std::vector<std::string> &documents) {
	sink.BeginTransaction(end_lsn - 8);
	for (const std::string &document : documents)
		sink.Apply(ParseChange(document));
	sink.CommitTransaction(end_lsn - 8, end_lsn);
}

const std::string kInsert = R"({"op":"insert","lsn":"0/F8","schema":"public","table":"t","key":["id"],)"
							R"("new":{"id":1,"v":"a\nb \u00e9"},"types":{"id":"integer","v":"text"}})";

TEST(JsonArchiveSink, ArchivesDocumentsVerbatim) {
	TempDir dir;
	JsonArchiveSink sink(dir.Path(), 1 << 20);
	EXPECT_EQ(sink.DurableLsn(), mosta::sidecar::kInvalidLsn);
	Transaction(sink, 0x100, {kInsert, R"({"op":"message","transactional":true,"prefix":"p","content":"x"})"});
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
	EXPECT_EQ(Files(dir.Path()), std::vector<std::string>{"archive-00000000000000F8.jsonl"});
	EXPECT_EQ(ReadAll(dir.Path() + "/archive-00000000000000F8.jsonl"),
			  "{\"op\":\"begin\",\"commit_lsn\":\"0/F8\"}\n" + kInsert +
				  "\n{\"op\":\"message\",\"transactional\":true,\"prefix\":\"p\",\"content\":\"x\"}\n"
				  "{\"op\":\"commit\",\"lsn\":\"0/F8\",\"end_lsn\":\"0/100\"}\n");
	mosta::sidecar::Change built;
	built.op = mosta::sidecar::Op::Insert;
	sink.BeginTransaction(0x1f8);
	EXPECT_THROW(sink.Apply(built), std::invalid_argument); // no document text to archive
	sink.Rollback();
}

TEST(JsonArchiveSink, ReopensAndRecoversFromACutTransaction) {
	TempDir dir;
	std::string file = dir.Path() + "/archive-00000000000000F8.jsonl";
	std::size_t after_first = 0;
	{
		JsonArchiveSink sink(dir.Path(), 1 << 20);
		Transaction(sink, 0x100, {kInsert});
		after_first = ReadAll(file).size();
		Transaction(sink, 0x200, {kInsert, kInsert});
	}
	std::size_t full = ReadAll(file).size();
	{
		JsonArchiveSink sink(dir.Path(), 1 << 20);
		EXPECT_EQ(sink.DurableLsn(), 0x200u);
		EXPECT_EQ(ReadAll(file).size(), full);
	}
	for (std::size_t cut : {after_first + 5, full - 1, full - 30}) {
		std::filesystem::resize_file(file, cut);
		JsonArchiveSink sink(dir.Path(), 1 << 20);
		EXPECT_EQ(sink.DurableLsn(), 0x100u) << "cut at " << cut;
		EXPECT_EQ(ReadAll(file).size(), after_first) << "cut at " << cut;
		Transaction(sink, 0x200, {kInsert, kInsert});
		EXPECT_EQ(ReadAll(file).size(), full);
	}
}

TEST(JsonArchiveSink, RotatesOnlyAtTransactionBoundaries) {
	TempDir dir;
	{
		JsonArchiveSink sink(dir.Path(), 100); // one transaction already exceeds 100 bytes
		Transaction(sink, 0x100, {kInsert, kInsert});
		Transaction(sink, 0x200, {kInsert});
		Transaction(sink, 0x300, {});
	}
	std::vector<std::string> files = Files(dir.Path());
	ASSERT_EQ(files, (std::vector<std::string>{"archive-00000000000000F8.jsonl", "archive-00000000000001F8.jsonl",
											   "archive-00000000000002F8.jsonl"}));
	for (const std::string &name : files) {
		std::string text = ReadAll(dir.Path() + "/" + name);
		EXPECT_EQ(text.find("{\"op\":\"begin\""), 0u) << name;
		EXPECT_EQ(text.find("\n{\"op\":\"begin\""), std::string::npos) << name; // one transaction per file
		EXPECT_EQ(text.rfind("{\"op\":\"commit\""), text.rfind('\n', text.size() - 2) + 1) << name;
	}
	// A crash right after rotation leaves a newest file without a commit: reopening removes it.
	std::filesystem::resize_file(dir.Path() + "/" + files[2], 10);
	JsonArchiveSink sink(dir.Path(), 100);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_EQ(Files(dir.Path()).size(), 2u);
	Transaction(sink, 0x300, {});
	EXPECT_EQ(Files(dir.Path()).size(), 3u);
}

TEST(JsonArchiveSink, RollbackCutsAndDurableLsnNeverMovesBack) {
	TempDir dir;
	JsonArchiveSink sink(dir.Path(), 1 << 20);
	Transaction(sink, 0x200, {kInsert});
	std::string durable = ReadAll(dir.Path() + "/archive-00000000000001F8.jsonl");
	sink.BeginTransaction(0x2f8);
	sink.Apply(ParseChange(kInsert));
	sink.Rollback();
	EXPECT_EQ(ReadAll(dir.Path() + "/archive-00000000000001F8.jsonl"), durable);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	// The daemon never gives a transaction at or below DurableLsn() again; were it to, the LSN would not move back.
	Transaction(sink, 0x180, {});
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_THROW(sink.CommitTransaction(1, 2), std::logic_error);
	EXPECT_THROW(JsonArchiveSink(dir.Path(), 0), std::invalid_argument);
}

} // namespace
