/*
 * spooled_transaction.hpp
 *     SpooledTransaction: the commit / rollback / spill state machine of the file sinks (SQL dump, JSON archive),
 *     whose file holds durable transactions followed, while one is open, by the open transaction's text.
 *
 *     The open transaction's text goes to a buffer; once the buffer would reach kSpillBytes it is appended to the
 *     file (not synced) and starts over, so a transaction of any size is streamed with bounded memory. Commit
 *     appends the rest with the closing text (the sink's commit or checkpoint line), then fdatasyncs: only then
 *     does the file's size become the durable size. Rollback drops the buffer and cuts the file back to the
 *     durable size; when the cut fails it is retried by the next Begin, which throws if it fails again, so a
 *     transaction never starts after a partial one. A crash leaves at most a partial transaction after the last
 *     durable line, which the sink cuts when it reopens the file (FindLastLine; the SQL dump: ScanSqlDump).
 *     After a failed write the transaction is broken: Append and Commit throw until Rollback.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sink/durable_file.hpp"

namespace mosta::sidecar {

// SpooledTransaction writes one transaction at a time at the end of a DurableFile.
class SpooledTransaction {
  public:
	// kSpillBytes bounds the buffer: an open transaction's text past it goes to the file.
	static constexpr std::size_t kSpillBytes = std::size_t{1} << 20;

	// Attach makes file the file written, its current size durable (a recovered file ends after a durable line);
	// the previous file is closed. Only between transactions, with nothing written since the last commit: throws
	// std::logic_error otherwise.
	void Attach(std::unique_ptr<DurableFile> file);

	// File returns the attached file, or null.
	DurableFile *
	File() const noexcept {
		return file_.get();
	}

	// DurableSize returns the attached file's size up to its last synced commit.
	std::uint64_t
	DurableSize() const noexcept {
		return durable_size_;
	}

	// TrackCrc makes the spool keep the running CRC-32C (util/crc32c.hpp) of the file's text, starting from
	// durable_crc, the CRC of the attached file's durable content (the SQL dump writes it into its checkpoint
	// lines). Off by default.
	void TrackCrc(std::uint32_t durable_crc) noexcept;

	// RunningCrc returns the CRC of the durable content followed by the open transaction's text so far (0 when
	// not tracked).
	std::uint32_t
	RunningCrc() const noexcept {
		return crc_;
	}

	// Begin starts a transaction with an empty buffer, first cutting the file back if a Rollback could not.
	void Begin();

	// Append adds text to the open transaction, appending the buffer and text to the file once they reach
	// kSpillBytes.
	void Append(std::string_view text);

	// Commit appends the rest of the transaction and closing to the file and fdatasyncs it; the file's size is
	// then durable. On failure the caller must Rollback.
	void Commit(std::string_view closing);

	// Rollback drops the buffer and cuts the file back to its durable size (or leaves the cut to Begin).
	void Rollback() noexcept;

  private:
	// ReleaseBuffer empties the buffer, giving back its memory when one large text grew it far past kSpillBytes.
	void ReleaseBuffer() noexcept;

	std::unique_ptr<DurableFile> file_;
	std::string buffer_;			 // the open transaction's text not yet in the file
	std::uint64_t durable_size_ = 0; // file size up to the last synced commit
	bool cut_pending_ = false;		 // a Rollback could not cut the file; retried by Begin
	bool broken_ = false;			 // a write failed: the file holds an unknown part of the transaction
	bool track_crc_ = false;
	std::uint32_t crc_ = 0;			// the running CRC, with the open transaction's text
	std::uint32_t durable_crc_ = 0; // the running CRC at the durable size
};

} // namespace mosta::sidecar
