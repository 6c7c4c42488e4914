/*
 * schema_ddl.hpp
 *     The target schema of a mapping (docs/migration-mapping.md, "Target tables"): the statements `mosta-migrate
 *     schema` prints or applies. Every statement is idempotent (IF NOT EXISTS, guarded helper calls, helpers that
 *     are no-ops when already declared), so running them again changes nothing; tables come in load order, parents
 *     first, so each foreign key finds its table.
 */
#pragma once

#include <string>
#include <vector>

#include "mapping/mapping.hpp"

namespace mosta::migrate {

// SchemaStatements returns the DDL of mapping's target, one statement per element, without a trailing ';': the
// schema (unless public), then per collection in load order its table, polymorphic references
// (mosta_add_polymorphic_ref), child tables, id policy (mosta_set_id_policy, only when it differs), sparse unique
// (mosta_add_sparse_unique), unique, partial unique and plain indexes, and TTL (an index on the column, then
// mosta_add_ttl). Throws mapping::MappingError on a reference cycle.
std::vector<std::string> SchemaStatements(const mapping::Mapping &mapping);

// IndexName returns the name of an index of table over columns with suffix ("idx", "key"): table_col1_col2_suffix,
// or when that passes 63 bytes, a cut of it with a hash of the whole name (distinct names stay distinct).
std::string IndexName(const std::string &table, const std::vector<std::string> &columns, const std::string &suffix);

} // namespace mosta::migrate
