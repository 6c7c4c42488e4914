/*
 * table_checksum.hpp
 *     TableChecksum: the canonical checksum of one table's rows (docs/verification.md, common/canonical_row.hpp),
 *     computed from Canonical batches as they stream by: each row encoded as mosta::EncodeCanonicalRow does (the
 *     copied columns sorted by name bytewise, u32 lengths), hashed with CanonicalRowHash and added to a
 *     ChecksumState, so the manifest's checksum equals mosta_checksum('schema.table') on the source. The encoding
 *     reuses one buffer and the columns' precomputed name prefixes: nothing is allocated per row.
 */
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/row_batch.hpp"
#include "model/schema.hpp"
#include "mosta/common/canonical_row.hpp"

namespace mosta::copy {

class TableChecksum {
  public:
	// TableChecksum prepares the encoding of table's copied columns (a batch's fields, in CopiedColumns order).
	explicit TableChecksum(const TableDef &table);

	// Add counts every row of batch (Canonical form; throws CopyError for a PgText batch).
	void Add(const RowBatch &batch);
	// Merge counts the rows another TableChecksum of the same table counted.
	void
	Merge(const TableChecksum &other) noexcept {
		state_.Merge(other.state_);
	}

	std::uint64_t
	Rows() const noexcept {
		return state_.rows;
	}
	// Text returns the checksum: 64 lowercase hex digits.
	std::string
	Text() const {
		return state_.Text();
	}

  private:
	struct Column {
		std::size_t field;	// the field's index in a batch
		std::string prefix; // u32 name length + name
	};
	std::vector<Column> columns_; // sorted by name
	std::string buffer_;
	ChecksumState state_;
};

} // namespace mosta::copy
