/*
 * verify_checks.hpp
 *     What `mosta-migrate verify` compares, per collection (docs/migration.md, "verify"), and the two sides that fill
 *     it: the MongoDB side reads the collection's documents once through TransformDocument (verify_source.cpp), the
 *     PostgreSQL side reads the tables in one REPEATABLE READ snapshot (verify_target.cpp).
 *       1. counts: documents (countDocuments) vs rows of the collection's table, and the documents held back in
 *          mosta_migration.problems;
 *       2. relationships: per reference column, documents whose reference is set vs rows whose FK column is not
 *          null (a polymorphic reference per kind, entity and template); per child table, array elements vs rows;
 *       3. checksums per table (the collection's and each child table), in ranges of keys: only the ranges whose
 *          checksums differ are read again, key by key, to name the differing rows and columns;
 *       4. the mapping's sums: per group, rows and the exact total (mosta_sum_by on PostgreSQL).
 */
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "app/resync_plan.hpp"
#include "decimal_sum.hpp"
#include "mapping/mapping.hpp"
#include "mongo_source.hpp"
#include "mosta/common/canonical_row.hpp"
#include "sink/pg_session.hpp"
#include "verify_table.hpp"

namespace mosta::migrate {

// One relationship count: rows of a table whose column is not null (kind empty) or equals kind.
struct RelationCount {
	std::string label;	 // "payments.buyer_id → users", "payments.purchase_request (template)"
	std::size_t column;	 // index among the table's compared columns
	std::string kind;	 // a polymorphic kind column's value to count; empty: count non-null values
	long long mongo = 0; // rows of transformed documents
	long long pg = 0;
};

// RelationCountsEveryRow tells whether relation counts every row of its table (a child table's elements).
bool RelationCountsEveryRow(const RelationCount &relation);

// One differing row of a table.
struct RowDifference {
	std::string key;
	std::optional<std::vector<std::optional<std::string>>> mongo; // nullopt: no such row on the MongoDB side
	std::optional<std::vector<std::optional<std::string>>> pg;	  // nullopt: no such row in PostgreSQL
};

// One compared table.
struct TableCheck {
	explicit TableCheck(ComparedTable compared) : table(std::move(compared)) {}

	ComparedTable table;
	std::size_t child_of = 0; // 0: the collection's table; i + 1: children[i]
	int buckets = 1;
	long long pg_rows = 0;
	sidecar::BucketSums pg_buckets;
	std::vector<ChecksumState> mongo_buckets; // buckets entries
	ChecksumState mongo_total;
	std::vector<RelationCount> relations;
	std::set<int> differing; // buckets whose count or checksum differ
	// filled by the second pass for the differing buckets
	long long rows_different = 0, rows_missing = 0, rows_extra = 0;
	std::vector<RowDifference> shown;

	std::string PgChecksum() const;
};

// RowsOf returns the rows document gives the table child_of names (0: its own row; i + 1: children[i]'s rows).
inline std::span<const mapping::MappedRow>
RowsOf(const mapping::MappedDocument &document, std::size_t child_of) {
	if (child_of == 0)
		return {&document.row, 1};
	return document.children.at(child_of - 1);
}

// One sum of the mapping: per group (CanonicalKeyText of the group columns' texts), rows and total on each side.
struct SumGroup {
	long long mongo_rows = 0, pg_rows = 0;
	DecimalSum mongo_total;
	std::string pg_total;
	std::vector<std::optional<std::string>> values; // the group columns' values
};
struct SumCheck {
	const mapping::SumCheck *sum;
	std::size_t amount;				// index among the collection table's compared columns
	std::vector<std::size_t> group; // likewise, per group_by column
	std::map<std::string, SumGroup> groups;
	long long not_numbers = 0; // MongoDB amounts that are no decimal text
};

// Everything verify compares for one collection.
struct CollectionCheck {
	const mapping::CollectionMap *collection;
	long long mongo_documents = 0; // countDocuments
	long long pg_rows = 0;		   // rows of the collection's table (= tables[0].pg_rows)
	long long problems = 0;		   // legacy ids with a row in mosta_migration.problems
	long long untransformable = 0; // documents whose _id no legacy id can be made of
	std::vector<std::string> untransformable_ids;
	std::vector<TableCheck> tables;
	std::vector<SumCheck> sums;
};

// PrepareCheck lays out the checks of a collection (tables, relationships, sums); throws MappingError for a sum
// naming no column of the table.
CollectionCheck PrepareCheck(const mapping::Mapping &mapping, const mapping::CollectionMap &collection);

// ReadTargetSide fills the PostgreSQL side (counts, relationships, range checksums, sums, problems), inside the
// caller's snapshot; the MongoDB document count must be known (it sizes the ranges).
void ReadTargetSide(sidecar::PgSession &session, const mapping::Mapping &mapping, CollectionCheck &check);

// ReadSourceSide reads every document of the collection once and fills the MongoDB side (relationships, range
// checksums, sums).
void ReadSourceSide(MongoSource &source, const mapping::Mapping &mapping, CollectionCheck &check);

// CountDocuments sets check.mongo_documents (countDocuments({})).
void CountDocuments(MongoSource &source, CollectionCheck &check);

// FindDifferences compares the differing ranges key by key (a second pass over the collection, keeping only the
// rows of those ranges) and records up to show differing rows per table.
void FindDifferences(MongoSource &source, sidecar::PgSession &session, const mapping::Mapping &mapping,
					 CollectionCheck &check, int show);

// Report prints the four tables of checks to out and returns the number of differences found.
int Report(std::FILE *out, const std::vector<CollectionCheck> &checks);

} // namespace mosta::migrate
