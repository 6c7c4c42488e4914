/*
 * row_batch.hpp
 *     RowBatch: up to --batch-size rows of one table, each a fixed number of fields (the table's copied columns,
 *     TableDef::CopiedColumns), stored flat: one byte buffer and one (offset, length) per field, length -1 for
 *     NULL. A batch is filled by one thread, then shared read-only (std::shared_ptr<const RowBatch>) by the
 *     destinations' writer threads.
 *
 *     A batch's fields are in one of two forms (docs/copy.md, "Values"):
 *       - PgText: PostgreSQL's text output under mosta-copy's fixed session settings (DateStyle ISO, TimeZone
 *         UTC, IntervalStyle iso_8601, extra_float_digits 1, bytea_output hex), what COPY ... TO STDOUT writes,
 *         unescaped; what PostgreSQL reads back exactly (COPY FROM, the SQL dump);
 *       - Canonical: the canonical text of docs/verification.md (the output plugin's value encoding, a JSON
 *         string taken as its content), what the checksums hash and SQLite, JSON and MongoDB store.
 *     model/value_text.hpp converts a whole batch from one form to the other.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mosta::copy {

// The form of a batch's fields.
enum class ValueForm { PgText, Canonical };

class RowBatch {
  public:
	RowBatch(std::size_t columns, ValueForm form) : columns_(columns), form_(form) {}

	std::size_t
	Columns() const noexcept {
		return columns_;
	}
	ValueForm
	Form() const noexcept {
		return form_;
	}
	// Rows returns the number of complete rows.
	std::size_t
	Rows() const noexcept {
		return columns_ == 0 ? rows_without_columns_ : fields_.size() / columns_;
	}
	// Bytes returns the size of the fields' bytes (for progress and batch budgets).
	std::size_t
	Bytes() const noexcept {
		return bytes_.size();
	}

	// Field returns row's column, nullopt for NULL.
	std::optional<std::string_view>
	Field(std::size_t row, std::size_t column) const noexcept {
		const Slot &slot = fields_[row * columns_ + column];
		if (slot.length < 0)
			return std::nullopt;
		return std::string_view(bytes_.data() + slot.offset, static_cast<std::size_t>(slot.length));
	}

	// AddField and AddNull append the next field; a row is complete after Columns() of them. AddEmptyRow counts a
	// row of a table without copied columns.
	void
	AddField(std::string_view bytes) {
		fields_.push_back(Slot{bytes_.size(), static_cast<std::int64_t>(bytes.size())});
		bytes_.append(bytes);
	}
	void
	AddNull() {
		fields_.push_back(Slot{bytes_.size(), -1});
	}
	void
	AddEmptyRow() noexcept {
		++rows_without_columns_;
	}

	// StartField and FinishField let a reader write a field's bytes straight into the buffer (an unescaping
	// loop): StartField returns the buffer to append to, FinishField records what was appended since.
	std::string &
	StartField() {
		start_ = bytes_.size();
		return bytes_;
	}
	void
	FinishField() {
		fields_.push_back(Slot{start_, static_cast<std::int64_t>(bytes_.size() - start_)});
	}

	// Clear empties the batch, keeping its memory.
	void
	Clear() noexcept {
		bytes_.clear();
		fields_.clear();
		rows_without_columns_ = 0;
	}

  private:
	struct Slot {
		std::size_t offset;
		std::int64_t length; // -1: NULL
	};
	std::size_t columns_;
	ValueForm form_;
	std::string bytes_;
	std::vector<Slot> fields_;
	std::size_t rows_without_columns_ = 0;
	std::size_t start_ = 0;
};

} // namespace mosta::copy
