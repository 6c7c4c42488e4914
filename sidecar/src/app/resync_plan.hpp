/*
 * resync_plan.hpp
 *     The pure half of the re-sync (app/resync.hpp, docs/verification.md "Re-sync after a lost slot"): which key
 *     range a row falls in, the ranges' checksums on the target, which ranges and then which keys differ, and the
 *     delete documents that take a target's extra rows away.
 *
 *     Ranges are hash buckets of the canonical key text: the bucket of a key is the first 32 bits of the canonical
 *     row hash of a one-column row {k: key text} (the encoding of docs/verification.md, which mosta.canonical_row_hash
 *     computes on the source), modulo the bucket count. The same key falls in the same bucket on both sides whatever
 *     each side's sort order or collation, and a range's checksum is the order-independent canonical checksum of its
 *     rows, as mosta_checksum computes it over a whole table.
 */
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mosta::sidecar {

// kResyncRowsPerBucket is how many rows one range holds on average; kResyncMaxBuckets bounds the ranges of a table.
inline constexpr long long kResyncRowsPerBucket = 16;
inline constexpr int kResyncMaxBuckets = 65536;

// ResyncBucketCount returns how many ranges a table of rows rows is compared in (1 to kResyncMaxBuckets).
int ResyncBucketCount(long long rows) noexcept;

// KeyBucket returns the range (0 to buckets - 1) of a canonical key text.
int KeyBucket(std::string_view key_text, int buckets);

// KeyBucketSql returns the SQL expression of KeyBucket on the source, over key_row: the alias of a row whose one
// column k is the key text (CROSS JOIN LATERAL (SELECT <key text> AS k) key_row).
std::string KeyBucketSql(const std::string &key_row, int buckets);

// One range's row count and canonical checksum (64 hex digits).
struct BucketSum {
	long long rows = 0;
	std::string checksum;

	friend bool operator==(const BucketSum &, const BucketSum &) = default;
};
using BucketSums = std::map<int, BucketSum>;

// TargetBucketSums groups a target's rows (key text -> row hash, 32 hex digits) into ranges; throws
// std::invalid_argument for a malformed hash.
BucketSums TargetBucketSums(const std::map<std::string, std::string> &hashes, int buckets);

// DifferingBuckets returns the ranges whose row count or checksum differs (a range missing on one side is empty
// there).
std::set<int> DifferingBuckets(const BucketSums &source, const BucketSums &target);

// The keys a target must change so that the compared ranges equal the source's: remove (delete on the target:
// extra rows and differing rows) and write (insert the source's row: missing rows and differing rows), sorted.
struct KeyDiff {
	std::vector<std::string> remove;
	std::vector<std::string> write;
	long long missing = 0;	 // on the source, not on the target
	long long extra = 0;	 // on the target, not on the source
	long long different = 0; // on both, with another row hash
};

// DiffKeys compares the source's rows of the differing ranges (key text -> row hash) with the target's rows of the
// same ranges (target holds all its rows; those of other ranges are ignored).
KeyDiff DiffKeys(const std::map<std::string, std::string> &source, const std::map<std::string, std::string> &target,
				 const std::set<int> &differing, int buckets);

// SplitKeyText undoes CanonicalKeyText: the key's values (nullopt for \N); throws std::invalid_argument on a
// dangling escape.
std::vector<std::optional<std::string>> SplitKeyText(std::string_view key_text);

// DeleteDocument returns the delete document (format version 2, docs/protocol.md section 7) of the row whose
// key text is key_text in schema.table: key columns key, whose base types (format_type) are key_types, and types
// (the "types" object's text of the table's documents, "" for none). A value is written as the plugin writes its
// type (section 8): integers, finite floats and booleans as JSON numbers and booleans, everything else as a
// string holding its canonical text. Throws std::invalid_argument when the key text does not have one non-NULL
// value per key column.
std::string DeleteDocument(std::string_view schema, std::string_view table, const std::vector<std::string> &key,
						   const std::vector<std::string> &key_types, std::string_view key_text,
						   std::string_view types);

} // namespace mosta::sidecar
