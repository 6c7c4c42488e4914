/*
 * sql_dump_scan.cpp
 *     ScanSqlDump (see sql_dump_scan.hpp): a line state machine fed by 1 MiB chunks, with the running CRC-32C.
 */
#include "sink/sql_dump_scan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "util/crc32c.hpp"

namespace mosta::sidecar {

namespace {

// kChunkBytes is how much of the file the scan reads at a time.
constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

// kKeptBytes is how much of a line the scan keeps: whole checkpoint and type record lines, the start of others.
constexpr std::size_t kKeptBytes = kMaxSqlDumpRecordBytes + 64;

constexpr std::string_view kCheckpointPrefix = "-- mosta-checkpoint ";

// Scanner walks the lines of a dump after its header.
class Scanner {
  public:
	// Scanner starts after the header, whose CRC is crc.
	Scanner(const DurableFile &file, std::uint32_t crc) : file_(file), crc_(crc) {
		scan_.empty = false;
		scan_.good_end = line_start_ = kSqlDumpHeader.size();
		scan_.crc = crc;
	}

	// Run reads the file to its end and returns the scan, or throws SqlDumpDamaged.
	SqlDumpScan
	Run() {
		for (std::uint64_t at = line_start_; at < file_.Size(); at += kChunkBytes)
			Feed(file_.ReadAt(at, kChunkBytes));
		if (problem_ && (definite_ || later_checkpoint_))
			throw SqlDumpDamaged(Report());
		return std::move(scan_);
	}

  private:
	// Feed splits a chunk into lines, extending the CRC over every byte.
	void
	Feed(std::string_view chunk) {
		while (!chunk.empty()) {
			std::size_t newline = chunk.find('\n');
			std::string_view piece = chunk.substr(0, newline == std::string_view::npos ? chunk.size() : newline);
			if (kept_.size() < kKeptBytes)
				kept_.append(piece.substr(0, kKeptBytes - kept_.size()));
			line_bytes_ += piece.size();
			if (!piece.empty())
				last_ = piece.back();
			crc_ = Crc32cExtend(crc_, piece);
			if (newline == std::string_view::npos)
				return;
			crc_ = Crc32cExtend(crc_, "\n");
			std::uint64_t end = line_start_ + line_bytes_ + 1;
			Line(end);
			++line_number_;
			line_start_ = end;
			line_crc_ = crc_;
			line_bytes_ = 0;
			last_ = '\0';
			kept_.clear();
			chunk.remove_prefix(newline + 1);
		}
	}

	// Line checks the complete line that ends (newline included) at end.
	void
	Line(std::uint64_t end) {
		std::string_view text = kept_;
		bool whole = line_bytes_ == kept_.size();
		if (problem_) {
			later_checkpoint_ = later_checkpoint_ || text.substr(0, kCheckpointPrefix.size()) == kCheckpointPrefix;
			return;
		}
		switch (state_) {
		case State::Between:
			if (text != "BEGIN;")
				return Fail("expected \"BEGIN;\", the start of a transaction, after the checkpoint line before it");
			state_ = State::Inside;
			return;
		case State::Inside:
			if (text == "COMMIT;") {
				state_ = State::Committed;
			} else if (text == "BEGIN;") {
				Fail("\"BEGIN;\" inside a transaction: the transaction before it lost its end (a block was cut)");
			} else if (text.substr(0, kCheckpointPrefix.size()) == kCheckpointPrefix) {
				Fail("a checkpoint line without \"COMMIT;\" before it");
			} else if (text.substr(0, kSqlDumpTypePrefix.size()) == kSqlDumpTypePrefix) {
				if (!whole)
					return Fail("a type record line longer than " + std::to_string(kMaxSqlDumpRecordBytes) + " bytes");
				pending_.emplace_back(text.substr(kSqlDumpTypePrefix.size()));
			} else if (text.substr(0, 3) != "-- " && last_ != ';') {
				Fail("not a whole statement (every statement of the dump is one line ending with \";\")");
			}
			return;
		case State::Committed:
			definite_ = true; // a complete line after COMMIT; is the checkpoint line, written with it
			if (!whole || text.substr(0, kCheckpointPrefix.size()) != kCheckpointPrefix)
				return Fail("expected the checkpoint line after \"COMMIT;\"");
			Checkpoint(text, end);
			return;
		}
	}

	// Checkpoint checks a checkpoint line's LSN and CRC and, when they hold, makes it the good end.
	void
	Checkpoint(std::string_view text, std::uint64_t end) {
		std::string_view rest = text.substr(kCheckpointPrefix.size());
		std::size_t field = rest.find(kSqlDumpCrcField);
		std::optional<Lsn> lsn = ParseLsn(rest.substr(0, field));
		if (!lsn)
			return Fail("the checkpoint line's LSN is not an LSN");
		if (field == std::string_view::npos) {
			if (seen_crc_)
				return Fail("a checkpoint line without its CRC after lines with one");
		} else {
			std::string_view digits = rest.substr(field + kSqlDumpCrcField.size());
			std::uint32_t stored = 0;
			auto [ptr, error] = std::from_chars(digits.data(), digits.data() + digits.size(), stored, 16);
			if (digits.size() != 8 || error != std::errc() || ptr != digits.data() + digits.size())
				return Fail("the checkpoint line's CRC is not 8 hex digits");
			std::uint32_t computed = Crc32cExtend(line_crc_, text.substr(0, kCheckpointPrefix.size() + field));
			if (computed != stored)
				return Fail("the CRC of the file up to this checkpoint line does not match (" +
							FormatSqlDumpCrc(computed).substr(kSqlDumpCrcField.size()) +
							" computed): a byte "
							"before it was changed, or a line or block was removed or added");
			seen_crc_ = true;
		}
		definite_ = false;
		state_ = State::Between;
		scan_.good_end = end;
		scan_.crc = crc_;
		scan_.lsn = lsn;
		good_line_ = line_number_;
		for (std::string &record : pending_)
			scan_.records.push_back(std::move(record));
		pending_.clear();
	}

	// Fail records the first problem, at the current line.
	void
	Fail(std::string what) {
		problem_ = "byte " + std::to_string(line_start_) + " (line " + std::to_string(line_number_) + "): " + what;
	}

	// Report returns the error text of a damaged dump.
	std::string
	Report() const {
		std::string good =
			scan_.lsn ? "checkpoint " + FormatLsn(*scan_.lsn) + " on line " + std::to_string(good_line_) : "the header";
		return "SQL dump " + file_.Path() + " is damaged at " + *problem_ + ". Its first " +
			   std::to_string(scan_.good_end) + " bytes (up to " + good +
			   ") are intact; nothing was written to it. Move the file away and restart: the sidecar then writes a "
			   "new dump, starting with a new initial copy";
	}

	enum class State { Between, Inside, Committed };

	const DurableFile &file_;
	SqlDumpScan scan_;
	std::uint32_t crc_;				// the running CRC, up to what was fed
	std::uint32_t line_crc_ = crc_; // the running CRC at the start of the current line
	std::uint64_t line_start_ = 0;	// the current line's offset
	std::uint64_t line_number_ = 4; // the current line's number (the header has three)
	std::uint64_t line_bytes_ = 0;	// the current line's length so far
	std::uint64_t good_line_ = 0;	// the line number of the last good checkpoint line
	std::string kept_;				// the current line's first kKeptBytes bytes
	char last_ = '\0';				// the current line's last byte so far
	State state_ = State::Between;
	bool seen_crc_ = false;			// a checkpoint line with a CRC was seen
	bool definite_ = false;			// the problem is damage even at the end of the file
	bool later_checkpoint_ = false; // a checkpoint line follows the problem
	std::optional<std::string> problem_;
	std::vector<std::string> pending_; // type records of the open transaction
};

} // namespace

std::string
FormatSqlDumpCrc(std::uint32_t crc) {
	char digits[9];
	std::snprintf(digits, sizeof digits, "%08x", crc);
	return std::string(kSqlDumpCrcField) + digits;
}

SqlDumpScan
ScanSqlDump(const DurableFile &file) {
	std::string head = file.ReadAt(0, kSqlDumpHeader.size());
	if (head.size() < kSqlDumpHeader.size() && kSqlDumpHeader.substr(0, head.size()) == head)
		return SqlDumpScan{}; // empty, or a header cut by a crash
	if (head != kSqlDumpHeader)
		throw SqlDumpDamaged(
			"SQL dump " + file.Path() + " is not a mostajs SQL dump (it does not start with \"" +
			std::string(kSqlDumpHeader.substr(0, kSqlDumpHeader.find('\n'))) +
			"\"): refusing to write to a file the sidecar did not create (or whose header is "
			"damaged); nothing was written to it. Move the file away, or give the target another file name");
	return Scanner(file, Crc32cExtend(0, kSqlDumpHeader)).Run();
}

} // namespace mosta::sidecar
