/*
 * json_archive_sink_test.cpp
 *     Tests of the JSON archive sink in temporary directories: documents archived verbatim between begin and
 *     commit lines (with the commit time), reopen, recovery after a crash that cut a transaction, rotation at
 *     transaction boundaries, transactions larger than the spill bound (one file, commit, rollback, a crash in the
 *     middle), Rollback and a monotonic DurableLsn.
 */
#include "sink/json_archive_sink.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sink/spooled_transaction.hpp"

namespace {

using mosta::sidecar::JsonArchiveSink;
using mosta::sidecar::Lsn;
using mosta::sidecar::ParseChange;

// kKeepRaw asks the decoder for the document texts the archive writes.
const mosta::sidecar::DecoderOptions kKeepRaw{true};
using mosta::sidecar::SpooledTransaction;

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
		sink.Apply(ParseChange(document, kKeepRaw));
	sink.CommitTransaction(end_lsn - 8, end_lsn);
}

// Row returns an insert document of row id, with a 200-character value.
std::string
Row(int id) {
	return R"({"op":"insert","lsn":"0/1F0","schema":"public","table":"big","key":["id"],"new":{"id":)" +
		   std::to_string(id) + R"(,"v":")" + std::string(200, 'x') + R"("}})";
}

// ApplyUntilSpilled applies rows (ids from 1) to the open transaction until file has grown spills times, at least
// SpooledTransaction::kSpillBytes each; returns the number of rows applied.
int
ApplyUntilSpilled(JsonArchiveSink &sink, const std::string &file, int spills) {
	std::uintmax_t size = std::filesystem::file_size(file);
	int rows = 0;
	for (int seen = 0; seen < spills;) {
		if (rows > 10 * spills * static_cast<int>(SpooledTransaction::kSpillBytes / 200)) {
			ADD_FAILURE() << "the file does not grow while the transaction is open";
			break;
		}
		sink.Apply(ParseChange(Row(++rows), kKeepRaw));
		std::uintmax_t now = std::filesystem::file_size(file);
		if (now != size) {
			EXPECT_GE(now - size, SpooledTransaction::kSpillBytes);
			size = now;
			++seen;
		}
	}
	return rows;
}

// Lines returns the lines of text.
std::vector<std::string>
Lines(const std::string &text) {
	std::vector<std::string> lines;
	std::istringstream in(text);
	for (std::string line; std::getline(in, line);)
		lines.push_back(line);
	return lines;
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
			  "{\"op\":\"begin\",\"format_version\":2,\"commit_lsn\":\"0/F8\"}\n" + kInsert +
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
	sink.Apply(ParseChange(kInsert, kKeepRaw));
	sink.Rollback();
	EXPECT_EQ(ReadAll(dir.Path() + "/archive-00000000000001F8.jsonl"), durable);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	// The daemon never gives a transaction at or below DurableLsn() again; were it to, the LSN would not move back.
	Transaction(sink, 0x180, {});
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_THROW(sink.CommitTransaction(1, 2), std::logic_error);
	EXPECT_THROW(JsonArchiveSink(dir.Path(), 0), std::invalid_argument);
}

TEST(JsonArchiveSink, BeginAndCommitLinesCarryTheCommitTime) {
	TempDir dir;
	JsonArchiveSink sink(dir.Path(), 1 << 20);
	sink.BeginTransaction(0xf8);
	sink.NoteCommitTime("2026-11-22T17:50:00.335859+00:00");
	sink.Apply(ParseChange(kInsert, kKeepRaw));
	sink.CommitTransaction(0xf8, 0x100);
	sink.BeginTransaction(0x1f8); // the commit time is escaped, and noted even when no change follows
	sink.NoteCommitTime("a\"b\\c\nd\x01");
	sink.CommitTransaction(0x1f8, 0x200);
	EXPECT_EQ(
		ReadAll(dir.Path() + "/archive-00000000000000F8.jsonl"),
		"{\"op\":\"begin\",\"format_version\":3,\"ts\":\"2026-11-22T17:50:00.335859+00:00\",\"commit_lsn\":\"0/"
		"F8\"}\n" +
			kInsert +
			"\n{\"op\":\"commit\",\"ts\":\"2026-11-22T17:50:00.335859+00:00\",\"lsn\":\"0/F8\","
			"\"end_lsn\":\"0/100\"}\n"
			"{\"op\":\"begin\",\"format_version\":3,\"ts\":\"a\\\"b\\\\c\\u000ad\\u0001\",\"commit_lsn\":\"0/1F8\"}\n"
			"{\"op\":\"commit\",\"ts\":\"a\\\"b\\\\c\\u000ad\\u0001\",\"lsn\":\"0/1F8\",\"end_lsn\":\"0/200\"}\n");
	mosta::sidecar::ParsedChange commit =
		ParseChange(Lines(ReadAll(dir.Path() + "/archive-00000000000000F8.jsonl")).back()); // still a protocol document
	EXPECT_EQ(commit->end_lsn, 0x200u);
	// The commit time comes right after BeginTransaction: after a change its begin line is written already.
	sink.BeginTransaction(0x2f8);
	sink.Apply(ParseChange(kInsert, kKeepRaw));
	EXPECT_THROW(sink.NoteCommitTime("2026-11-22T17:50:00+00:00"), std::logic_error);
	sink.Rollback();
	sink.BeginTransaction(0x2f8);
	EXPECT_THROW(sink.NoteCommitTime(std::string(1000, '1')), std::invalid_argument);
	sink.Rollback();
	EXPECT_THROW(sink.NoteCommitTime("2026-11-22T17:50:00+00:00"), std::logic_error);
	EXPECT_THROW(sink.Apply(ParseChange(R"({"op":"commit","lsn":"0/F8","end_lsn":"0/999"})", kKeepRaw)),
				 std::logic_error);
	sink.BeginTransaction(0x2f8);
	EXPECT_THROW(sink.Apply(ParseChange(R"({"op":"commit","lsn":"0/F8","end_lsn":"0/999"})", kKeepRaw)),
				 std::invalid_argument); // would forge a commit line
	sink.Rollback();
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
}

TEST(JsonArchiveSink, StreamsATransactionLargerThanTheSpillBoundIntoOneFile) {
	TempDir dir;
	std::string big = dir.Path() + "/archive-00000000000001F8.jsonl";
	int rows = 0;
	{
		JsonArchiveSink sink(dir.Path(), 1000); // the first transaction fills its file
		Transaction(sink, 0x100, {kInsert, kInsert, kInsert, kInsert, kInsert, kInsert, kInsert, kInsert});
		sink.BeginTransaction(0x1f8); // rotates: the whole transaction goes to the new file
		sink.NoteCommitTime("2026-11-22T17:50:00.335859+00:00");
		rows = ApplyUntilSpilled(sink, big, 3); // spilled, neither synced nor counted yet
		EXPECT_EQ(sink.DurableLsn(), 0x100u);
		sink.CommitTransaction(0x1f8, 0x200);
		EXPECT_EQ(sink.DurableLsn(), 0x200u);
		Transaction(sink, 0x300, {kInsert});
	}
	EXPECT_EQ(Files(dir.Path()),
			  (std::vector<std::string>{"archive-00000000000000F8.jsonl", "archive-00000000000001F8.jsonl",
										"archive-00000000000002F8.jsonl"}));
	std::vector<std::string> lines = Lines(ReadAll(big));
	ASSERT_EQ(lines.size(), static_cast<std::size_t>(rows) + 2);
	EXPECT_EQ(lines.front(),
			  R"({"op":"begin","format_version":3,"ts":"2026-11-22T17:50:00.335859+00:00","commit_lsn":"0/1F8"})");
	EXPECT_EQ(lines[1], Row(1));
	EXPECT_EQ(lines[rows], Row(rows));
	EXPECT_EQ(lines.back(),
			  R"({"op":"commit","ts":"2026-11-22T17:50:00.335859+00:00","lsn":"0/1F8","end_lsn":"0/200"})");
	JsonArchiveSink sink(dir.Path(), 1000);
	EXPECT_EQ(sink.DurableLsn(), 0x300u);
}

TEST(JsonArchiveSink, RollbackAfterSpillsRestoresTheFile) {
	TempDir dir;
	std::string file = dir.Path() + "/archive-00000000000000F8.jsonl";
	JsonArchiveSink sink(dir.Path(), 1 << 30);
	Transaction(sink, 0x100, {kInsert});
	std::string durable = ReadAll(file);
	sink.BeginTransaction(0x1f8);
	ApplyUntilSpilled(sink, file, 2);
	sink.Rollback();
	EXPECT_EQ(ReadAll(file), durable);
	EXPECT_EQ(sink.DurableLsn(), 0x100u);
	Transaction(sink, 0x200, {kInsert});
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_EQ(ReadAll(file).substr(0, durable.size()), durable);
}

TEST(JsonArchiveSink, AFileLeftEmptyByARollbackIsNamedAfterTheNextTransaction) {
	TempDir dir;
	JsonArchiveSink sink(dir.Path(), 100);
	Transaction(sink, 0x100, {kInsert});
	sink.BeginTransaction(0x1f8); // rotates into archive-...1F8
	sink.Apply(ParseChange(kInsert, kKeepRaw));
	sink.Rollback();
	EXPECT_EQ(Files(dir.Path()),
			  (std::vector<std::string>{"archive-00000000000000F8.jsonl", "archive-00000000000001F8.jsonl"}));
	Transaction(sink, 0x300, {kInsert}); // another transaction comes next: the empty file gives way to its own
	EXPECT_EQ(Files(dir.Path()),
			  (std::vector<std::string>{"archive-00000000000000F8.jsonl", "archive-00000000000002F8.jsonl"}));
	EXPECT_EQ(ReadAll(dir.Path() + "/archive-00000000000002F8.jsonl")
				  .find(R"({"op":"begin","format_version":2,"commit_lsn":"0/2F8"})"),
			  0u);
}

TEST(JsonArchiveSink, RecoversFromACrashInTheMiddleOfSpills) {
	TempDir dir;
	TempDir crashed;
	std::string file = dir.Path() + "/archive-00000000000000F8.jsonl";
	std::size_t after_first = 0;
	{
		JsonArchiveSink sink(dir.Path(), 1 << 30);
		Transaction(sink, 0x100, {kInsert});
		after_first = ReadAll(file).size();
		sink.BeginTransaction(0x1f8);
		ApplyUntilSpilled(sink, file, 3);
		// the directory as a crash would leave it: a long partial transaction after the last commit line
		std::filesystem::copy_file(file, crashed.Path() + "/archive-00000000000000F8.jsonl");
	}
	std::ofstream(crashed.Path() + "/archive-00000000000000F8.jsonl", std::ios::app) << R"({"op":"ins)";
	{
		JsonArchiveSink sink(crashed.Path(), 1 << 30);
		EXPECT_EQ(sink.DurableLsn(), 0x100u);
		EXPECT_EQ(ReadAll(crashed.Path() + "/archive-00000000000000F8.jsonl").size(), after_first);
		Transaction(sink, 0x200, {kInsert});
		EXPECT_EQ(sink.DurableLsn(), 0x200u);
	}
	// A crash in the middle of spills into a file the transaction rotated to: that file has no commit line.
	std::string big = dir.Path() + "/archive-00000000000002F8.jsonl";
	{
		JsonArchiveSink sink(dir.Path(), 100);
		Transaction(sink, 0x200, {kInsert}); // rotates (the file holds more than 100 bytes)
		sink.BeginTransaction(0x2f8);		 // rotates again
		ApplyUntilSpilled(sink, big, 2);
		std::filesystem::copy_file(dir.Path() + "/archive-00000000000001F8.jsonl",
								   crashed.Path() + "/archive-00000000000001F8.jsonl");
		std::filesystem::copy_file(big, crashed.Path() + "/archive-00000000000002F8.jsonl");
	}
	std::filesystem::remove(crashed.Path() + "/archive-00000000000000F8.jsonl");
	JsonArchiveSink sink(crashed.Path(), 100);
	EXPECT_EQ(sink.DurableLsn(), 0x200u);
	EXPECT_EQ(Files(crashed.Path()), std::vector<std::string>{"archive-00000000000001F8.jsonl"});
}

} // namespace

namespace {

// kRelation and kRelationAltered describe one table before and after ADD COLUMN (format version 3).
const std::string kRelation =
	R"({"op":"relation","relid":16385,"schema":"public","table":"t","identity":"default",)"
	R"("key":["id"],"columns":[{"name":"id","type":"integer","oid":23,"typmod":-1,"dims":0}]})";
const std::string kRelationAltered =
	R"({"op":"relation","relid":16385,"schema":"public","table":"t","identity":"default","key":["id"],"columns":[)"
	R"({"name":"id","type":"integer","oid":23,"typmod":-1,"dims":0},{"name":"v","type":"text","oid":25,"typmod":-1,)"
	R"("dims":0}]})";

// StreamedTransaction applies the version-3 changes of message (decoded by decoder) as one streamed transaction.
void
StreamedTransaction(JsonArchiveSink &sink, mosta::sidecar::ChangeDecoder &decoder, Lsn commit_lsn,
					const std::string &message) {
	auto decoded = decoder.Decode(message);
	sink.BeginTransaction(commit_lsn);
	sink.NoteCommitTime("2026-12-07T05:00:00+00:00");
	for (const mosta::sidecar::Change &change : decoded->changes)
		sink.Apply(change);
	sink.CommitTransaction(commit_lsn, commit_lsn + 8);
}

} // namespace

TEST(JsonArchiveSink, EachFileHoldsTheRelationDocumentsOfItsVersion3Rows) {
	TempDir dir;
	std::optional<JsonArchiveSink> sink(std::in_place, dir.Path(), 1 << 20);
	mosta::sidecar::ChangeDecoder decoder(kKeepRaw);
	const std::string insert1 = R"({"op":"insert","lsn":"0/100","relid":16385,"new":[1]})";
	const std::string insert2 = R"({"op":"insert","lsn":"0/200","relid":16385,"new":[2]})";
	StreamedTransaction(*sink, decoder, 0x100, kRelation + "\n" + insert1);
	StreamedTransaction(*sink, decoder, 0x200, insert2); // the file describes the relation already
	decoder.StartSession(); // a new stream sends the same description again: not written twice
	StreamedTransaction(*sink, decoder, 0x300,
						kRelation + "\n" + R"({"op":"delete","lsn":"0/300","relid":16385,"old":[1]})");
	std::vector<std::string> first = Lines(ReadAll(dir.Path() + "/archive-0000000000000100.jsonl"));
	EXPECT_EQ(std::count(first.begin(), first.end(), kRelation), 1);
	EXPECT_EQ(first[1], kRelation);
	EXPECT_EQ(first[2], insert1);
	// Reopened with tiny files, every transaction starts a file: an altered relation is described before its row,
	// and again in the next file.
	sink.emplace(dir.Path(), 100);
	const std::string insert3 = R"({"op":"insert","lsn":"0/400","relid":16385,"new":[3,"x"]})";
	StreamedTransaction(*sink, decoder, 0x400, kRelationAltered + "\n" + insert3);
	StreamedTransaction(*sink, decoder, 0x500, insert3);
	std::vector<std::string> files = Files(dir.Path());
	ASSERT_EQ(files.size(), 3u);
	for (const std::string &file : {files[1], files[2]})
		EXPECT_EQ(Lines(ReadAll(dir.Path() + "/" + file))[1], kRelationAltered) << file;
	// Each file reads back as a protocol stream of its own.
	for (const std::string &file : files) {
		mosta::sidecar::ChangeDecoder reader;
		std::string text = ReadAll(dir.Path() + "/" + file);
		EXPECT_NO_THROW(reader.Decode(text)) << file;
	}
}
