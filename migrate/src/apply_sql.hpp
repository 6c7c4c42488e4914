/*
 * apply_sql.hpp
 *     The statements the Applier (apply.hpp) runs for one target table, generated once from its TableLayout
 *     (mapping/transform.hpp): a text-typed temporary staging table, the COPY that fills it, the upsert that
 *     writes the table from it (references resolved through mosta.id_map; ON CONFLICT ... WHERE ... IS DISTINCT
 *     FROM, so that applying a row twice changes no tuple) and, for a child table, the delete of the elements beyond
 *     a document's new array length. Pure string building: tested without a server.
 */
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "mapping/mapping.hpp"
#include "mapping/transform.hpp"

namespace mosta::migrate {

// LowercasesIds tells whether mosta.id_map keys the collection's legacy ids in lowercase (mosta_map_ids does it
// for policy objectid and for require_objectid).
bool LowercasesIds(const mapping::CollectionMap &collection) noexcept;

// IdMapKey returns the SQL expression of expr as mosta.id_map keys legacy ids of collection (lower(expr) when
// LowercasesIds, else expr; an unknown collection: expr).
std::string IdMapKey(const mapping::Mapping &mapping, const std::string &collection, const std::string &expr);

// The statements of one table.
struct TableStatements {
	std::string table;		  // schema-qualified, quoted
	std::string stage;		  // the staging table (pg_temp), quoted
	std::string create_stage; // CREATE TEMP TABLE IF NOT EXISTS: one text column per layout column (c1..cN), then u<i>
							  // per reference
	std::string copy;		  // COPY stage FROM STDIN (text format, the layout's columns in order)
	// INSERT ... SELECT from the stage ... ON CONFLICT (key) DO UPDATE ... WHERE changed RETURNING the row's key
	// uuid (collection table: its id; child table: its parent) as text, for the rows written.
	std::string upsert;
	// Child tables: DELETE the rows at positions >= the new length; $1 uuid[] parents, $2 integer[] lengths;
	// RETURNING the parent as text. Empty for a collection table.
	std::string trim;
	std::size_t key_column = 0; // the layout index of the Id (collection) or Parent (child) column
	// the layout indexes of the references: after the layout's columns, the stage has one column per reference
	// (u<index+1>, in this order) for its uuid when the applier knows it (\N: looked up in mosta.id_map)
	std::vector<std::size_t> resolved;
};

// BuildTableStatements generates the statements of layout's table (in mapping.schema); throws MappingError when
// the layout lacks its key columns.
TableStatements BuildTableStatements(const mapping::Mapping &mapping, const mapping::TableLayout &layout);

// TextArrayLiteral returns values as a PostgreSQL array literal ('{"a","b",NULL}'), for a text[] parameter.
std::string TextArrayLiteral(const std::vector<std::optional<std::string>> &values);
std::string TextArrayLiteral(const std::vector<std::string> &values);

} // namespace mosta::migrate
