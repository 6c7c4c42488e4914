/*
 * verify_table.hpp
 *     How verify and the shadow sampler compare one target table (a collection's table or a child table) with the
 *     documents it comes from (docs/migration.md, "verify"). Both sides are compared on the LEGACY side:
 *       the MongoDB side is TransformDocument's row (references already hold the parents' legacy ids), each value
 *         as PostgreSQL stores it (verify_canonical.hpp);
 *       the PostgreSQL side selects the same columns with every uuid reference (Reference, polymorphic id, a child's
 *         parent) replaced by the legacy id mosta.id_map holds for it (a uuid id_map does not know reads
 *         "(unmapped <uuid>)", which never equals a legacy id), hashed by mosta.canonical_checksum /
 *         mosta.canonical_row_hash and read by mosta.canonical_text: the canonical encoding of
 *         docs/verification.md on both sides, byte for byte.
 *     The id column (a uuid PostgreSQL allocated, which MongoDB does not hold) is left out; the legacy id column
 *     stands for it. A row's key text is its legacy id (a child row: the parent's legacy id and the position),
 *     CanonicalKeyText-escaped, and ranges of keys are the re-sync's hash buckets (app/resync_plan.hpp).
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "mapping/mapping.hpp"
#include "mapping/transform.hpp"
#include "mosta/common/canonical_row.hpp"

namespace mosta::migrate {

class ComparedTable {
  public:
	ComparedTable(const mapping::Mapping &mapping, const mapping::TableLayout &layout);

	const mapping::TableLayout &
	Layout() const noexcept {
		return layout_;
	}
	// Names returns the compared columns' names, in layout order (the id column left out).
	const std::vector<std::string> &
	Names() const noexcept {
		return names_;
	}
	// Quoted returns schema.table, quoted.
	const std::string &
	Quoted() const noexcept {
		return quoted_;
	}

	// Values returns the compared values of a transformed row, as PostgreSQL stores them.
	std::vector<std::optional<std::string>> Values(const mapping::MappedRow &row) const;
	// Key returns the key text of a transformed row.
	std::string Key(const mapping::MappedRow &row) const;
	// Hash returns the canonical row hash of compared values (Values' order).
	Hash128 RowHash(const std::vector<std::optional<std::string>> &values) const;

	// BucketChecksumsSql: per range of buckets ranges, the row count and canonical checksum
	// (SELECT bucket, count, checksum ... GROUP BY bucket).
	std::string BucketChecksumsSql(int buckets) const;
	// RowsSql: key text, row hash and each compared column's canonical text of the rows matching where (an SQL
	// condition over the aliases t, key_row and r; "true" for every row), ordered by key.
	std::string RowsSql(const std::string &where) const;
	// BucketsWhere: the condition selecting the rows of the buckets listed in $1 (an int[] text: "{1,5}").
	std::string BucketsWhere(int buckets) const;
	// DocumentWhere: the condition selecting the rows of the document whose legacy id is $1 (indexed: the
	// collection's legacy id column; for a child table its parent's).
	std::string DocumentWhere() const;

  private:
	std::string FromSql() const;

	mapping::TableLayout layout_;
	std::vector<std::size_t> compared_; // layout indexes of the compared columns
	std::vector<std::string> names_;
	std::vector<std::string> selects_; // per compared column: its SQL over t and the id_map joins
	std::string joins_;
	std::string key_sql_;
	std::string document_where_;
	std::string quoted_;
};

// ComparedTables returns the compared tables of a collection: its own table, then its child tables in mapping order.
std::vector<ComparedTable> ComparedTables(const mapping::Mapping &mapping, const mapping::CollectionMap &collection);

} // namespace mosta::migrate
