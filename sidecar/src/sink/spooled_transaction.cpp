/*
 * spooled_transaction.cpp
 *     SpooledTransaction: the bounded buffer, spills, commit with fdatasync and rollback by truncation (see
 *     spooled_transaction.hpp).
 */
#include "sink/spooled_transaction.hpp"

#include <stdexcept>
#include <utility>

#include "util/act_fence.hpp"
#include "util/crc32c.hpp"

namespace mosta::sidecar {

// Attach takes file and its size as durable.
void
SpooledTransaction::Attach(std::unique_ptr<DurableFile> file) {
	if (!buffer_.empty() || broken_ || cut_pending_ || (file_ && file_->Size() != durable_size_))
		throw std::logic_error("file sink: a file is attached while a transaction is written");
	file_ = std::move(file);
	durable_size_ = file_ ? file_->Size() : 0;
}

// TrackCrc starts the running CRC at durable_crc.
void
SpooledTransaction::TrackCrc(std::uint32_t durable_crc) noexcept {
	track_crc_ = true;
	crc_ = durable_crc_ = durable_crc;
}

// Begin retries a pending cut (throwing when it fails again) and empties the buffer.
void
SpooledTransaction::Begin() {
	if (cut_pending_ && file_) {
		file_->Truncate(durable_size_);
		cut_pending_ = false;
	}
	ReleaseBuffer();
	broken_ = false;
	crc_ = durable_crc_;
}

// Append buffers text, or writes the buffer and text to the file when they reach kSpillBytes.
void
SpooledTransaction::Append(std::string_view text) {
	if (broken_ || !file_)
		throw std::logic_error(broken_ ? "file sink: write after a failed write, call Rollback()"
									   : "file sink: write without a file");
	if (track_crc_)
		crc_ = Crc32cExtend(crc_, text);
	if (buffer_.size() + text.size() < kSpillBytes) {
		buffer_ += text;
		return;
	}
	try {
		ThrowIfFenced("file sink"); // --dcs: another sidecar may write this file now
		file_->Append(buffer_);
		file_->Append(text);
	} catch (...) {
		broken_ = true;
		throw;
	}
	buffer_.clear();
}

// Commit writes the buffer and closing, then syncs.
void
SpooledTransaction::Commit(std::string_view closing) {
	if (broken_ || !file_)
		throw std::logic_error(broken_ ? "file sink: commit after a failed write, call Rollback()"
									   : "file sink: commit without a file");
	buffer_ += closing;
	if (track_crc_)
		crc_ = Crc32cExtend(crc_, closing);
	try {
		file_->Append(buffer_);
		file_->Sync();
	} catch (...) {
		broken_ = true;
		throw;
	}
	ReleaseBuffer();
	durable_size_ = file_->Size();
	durable_crc_ = crc_;
}

// Rollback empties the buffer and truncates what was spilled or written past the durable size.
void
SpooledTransaction::Rollback() noexcept {
	ReleaseBuffer();
	broken_ = false;
	crc_ = durable_crc_;
	// --dcs: a sidecar whose lease lapsed leaves the file alone: its durable size is stale, the new holder's
	// lines may follow it
	if (file_ && file_->Size() != durable_size_ && MayAct()) {
		try {
			file_->Truncate(durable_size_);
		} catch (const std::exception &) {
			cut_pending_ = true; // Begin retries the cut, and throws if it fails again
		}
	}
}

// ReleaseBuffer clears the buffer, and frees it when it holds more than twice kSpillBytes.
void
SpooledTransaction::ReleaseBuffer() noexcept {
	if (buffer_.capacity() > 2 * kSpillBytes)
		std::string().swap(buffer_);
	else
		buffer_.clear();
}

} // namespace mosta::sidecar
