/*
 * shadow_compare.hpp
 *     The shadow-read sampler's comparison of one document (docs/migration.md, "shadow reads"): the rows MongoDB's
 *     document becomes (its table's row and its child rows, through the transform) against the rows PostgreSQL holds
 *     for the same legacy id, compared as verify compares them (verify_table.hpp: canonical texts, references as
 *     legacy ids). A document missing on one side is a difference too.
 *
 *     What is reported of a difference: the table, the row's key, the column and the LENGTHS of the two values, not
 *     the values: the activity log and the metrics are read by operators who need not see business data (amounts,
 *     e-mail addresses); `mosta-migrate verify --collections C` prints the values when someone needs them.
 */
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "verify_table.hpp"

namespace mosta::migrate {

// The rows of one document in one table, by key text (each row's compared values, ComparedTable::Values' order).
using RowsByKey = std::map<std::string, std::vector<std::optional<std::string>>>;

// One side of a document: present or not, and its rows per compared table (ComparedTables' order).
struct DocumentSide {
	bool present = false;
	std::vector<RowsByKey> tables;
};

// One difference found under a sampled key.
struct ShadowDifference {
	std::string table;
	std::string key;
	std::string column;				  // "" for a whole row present on one side only
	std::optional<std::size_t> mongo; // the MongoDB value's length in bytes (nullopt: NULL or no row)
	std::optional<std::size_t> pg;	  // likewise for PostgreSQL
	std::string what;				  // "differs", "missing in PostgreSQL", "missing in MongoDB"
};

// CompareDocument returns the differences between the two sides of one document (empty: they match).
std::vector<ShadowDifference> CompareDocument(const std::vector<ComparedTable> &tables, const DocumentSide &mongo,
											  const DocumentSide &pg);

// What one sampled key came to.
enum class ShadowOutcome { Clean, Mismatch, Gone };

// RecheckedOutcome applies the sampler's rule for writes racing it: read() gives both sides of the key; when they
// differ, wait() runs (the re-check delay) and both are read once more (when recheck is set): the key is a mismatch
// only if they still differ (differences: the second read's), and Gone when neither side holds it (then or on the
// re-read: deleted since it was picked). Exceptions of read and wait go through.
ShadowOutcome RecheckedOutcome(const std::vector<ComparedTable> &tables,
							   const std::function<std::pair<DocumentSide, DocumentSide>()> &read,
							   const std::function<void()> &wait, bool recheck,
							   std::vector<ShadowDifference> &differences);

// DifferencesJson returns the activity row's detail: {"mapping", "collection", "legacy_id", "differences": [{table,
// key, column, what, mongodb_length, postgresql_length}]} (lengths, never values).
std::string DifferencesJson(const std::string &mapping, const std::string &collection, const std::string &legacy_id,
							const std::vector<ShadowDifference> &differences);

// DifferenceLine returns one difference as a line for the terminal ("payments.amount under key K differs (5 and 6
// bytes)").
std::string DifferenceLine(const ShadowDifference &difference);

} // namespace mosta::migrate
