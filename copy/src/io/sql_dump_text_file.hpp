/*
 * sql_dump_text_file.hpp
 *     The file plumbing of the two text backups, the SQL dump (io/sql_dump_destination, io/sql_dump_source) and
 *     the JSON export (io/json_destination, io/json_source), both laid out as a header, one block per table and a
 *     footer (docs/copy-formats.md):
 *       - OutputFile: a file written through one large buffer (write(2) in chunks of kOutputChunk bytes);
 *       - StagedTextFile: a text file written under its StagedPath temporary: the header, then each table's block,
 *         straight into the file with --jobs 1, else each block into its own part file
 *         ("<temporary>.part<N>", N the table's place in the schema) that Finish appends in schema order;
 *       - LineReader: a file read line by line through one large buffer, with line numbers and byte offsets, from
 *         any offset (a reader per table and thread).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "io/destination.hpp"
#include "io/staged_path.hpp"

namespace mosta::copy {

// kOutputChunk is the size of the writes to a backup file.
inline constexpr std::size_t kOutputChunk = 1 << 20;

// OutputFile writes a file through a buffer: append to Buffer(), then call MaybeFlush().
class OutputFile {
  public:
	OutputFile() = default;
	~OutputFile();
	OutputFile(const OutputFile &) = delete;
	OutputFile &operator=(const OutputFile &) = delete;

	// Open creates (or truncates) path; throws CopyError naming it.
	void Open(const std::string &path);
	std::string &
	Buffer() noexcept {
		return buffer_;
	}
	// MaybeFlush writes the buffer when it holds a chunk.
	void
	MaybeFlush() {
		if (buffer_.size() >= kOutputChunk)
			Flush();
	}
	// Flush writes the whole buffer; throws CopyError naming the file (disk full, ...).
	void Flush();
	// AppendFile appends the bytes of the file at path (a part file) after what was written.
	void AppendFile(const std::string &path);
	// Close flushes and closes; throws CopyError.
	void Close();
	const std::string &
	Path() const noexcept {
		return path_;
	}

  private:
	int fd_ = -1;
	std::string path_;
	std::string buffer_;
};

// StagedTextFile is a text backup file being written: header, table blocks, footer.
class StagedTextFile {
  public:
	// final_path is the file's final name; parts: blocks go to part files (OpenBlock from several threads);
	// separator is written between two blocks.
	StagedTextFile(std::string final_path, bool parts, std::string separator);
	// ~StagedTextFile removes what Commit did not publish (the temporary and the part files).
	~StagedTextFile();

	// Block writes one table's block: append to Buffer(), MaybeFlush(), then End().
	class Block {
	  public:
		virtual ~Block() = default;
		virtual std::string &Buffer() noexcept = 0;
		virtual void MaybeFlush() = 0;
		virtual void End() = 0;
	};

	// Begin creates the temporary and writes header.
	void Begin(std::string_view header);
	// OpenBlock returns the writer of the block at place order (the table's index in the schema); thread-safe.
	std::unique_ptr<Block> OpenBlock(std::size_t order);
	// BlockCount returns how many blocks were opened.
	std::size_t BlockCount() const;
	// Finish appends the part files in order, then footer, closes the file and computes its size and CRC.
	void Finish(std::string_view footer);
	// Commit publishes the file under its final name.
	void Commit();
	// Abort removes the temporary and the part files; never throws.
	void Abort() noexcept;
	// File returns what Commit published.
	WrittenFile File(const std::string &kind) const;

	const std::string &
	Temporary() const noexcept {
		return staged_.Temporary();
	}

  private:
	class DirectBlock;
	class PartBlock;
	std::string PartPath(std::size_t order) const;

	StagedPath staged_;
	bool parts_;
	std::string separator_;
	mutable std::mutex mutex_;
	OutputFile out_;
	bool direct_open_ = false;					 // a DirectBlock is being written
	std::size_t blocks_in_file_ = 0;			 // blocks already in out_ (direct ones)
	std::size_t blocks_opened_ = 0;				 // all blocks
	std::map<std::size_t, std::string> pending_; // order -> part file of an ended block, appended by Finish
	std::vector<std::string> part_paths_;		 // every part file created (Abort removes them)
	std::uint64_t bytes_ = 0;
	std::string crc32c_;
	bool committed_ = false;
};

// LineReader reads a file line by line.
class LineReader {
  public:
	// LineReader opens path at byte offset; line_number is the number of the line starting there (1-based).
	LineReader(const std::string &path, std::uint64_t offset = 0, std::uint64_t line_number = 1);
	~LineReader();
	LineReader(const LineReader &) = delete;
	LineReader &operator=(const LineReader &) = delete;

	// Next sets *line to the next line without its "\n" (valid until the next call); false at the end of the
	// file. A last line without "\n" is returned too, with Terminated() false.
	bool Next(std::string_view *line);
	// LineNumber returns the number of the line Next returned last (1-based).
	std::uint64_t
	LineNumber() const noexcept {
		return line_number_ - 1;
	}
	// Offset returns the byte offset of the line Next will return.
	std::uint64_t
	Offset() const noexcept {
		return file_offset_ - (end_ - start_);
	}
	// Terminated tells whether the line Next returned last ended with "\n".
	bool
	Terminated() const noexcept {
		return terminated_;
	}
	const std::string &
	Path() const noexcept {
		return path_;
	}

  private:
	bool Fill();

	int fd_ = -1;
	std::string path_;
	std::string buffer_;
	std::size_t start_ = 0, end_ = 0; // unread bytes: buffer_[start_, end_)
	std::uint64_t file_offset_ = 0;	  // offset of buffer_[end_]
	std::uint64_t line_number_ = 1;	  // the number of the next line
	bool eof_ = false;
	bool terminated_ = true;
};

} // namespace mosta::copy
