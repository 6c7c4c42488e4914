/*
 * apply_plan.hpp
 *     What the Applier prepares once per collection (CollectionPlan: the layouts of its table and child tables,
 *     their statements and value converters) and per document (Candidate: its COPY fields and the references it
 *     needs resolved). Documents whose values cannot be converted are turned into 'rejected' problems here.
 */
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "apply_problems.hpp"
#include "apply_rows.hpp"
#include "apply_sql.hpp"
#include "mapping/mapping.hpp"
#include "mapping/transform.hpp"

namespace mosta::migrate {

// One target table of a collection.
struct TablePlan {
	mapping::TableLayout layout;
	TableStatements sql;
	std::unique_ptr<RowConverter> rows; // refers to layout: a TablePlan never moves (held by unique_ptr)
};

struct CollectionPlan {
	const mapping::CollectionMap *collection = nullptr;
	std::unique_ptr<TablePlan> table;
	std::vector<std::unique_ptr<TablePlan>> children; // per CollectionMap::children index
};

// MakeTablePlan builds the plan of layout (field_prefix: a child table's array path).
std::unique_ptr<TablePlan> MakeTablePlan(const mapping::Mapping &mapping, mapping::TableLayout layout,
										 const std::string &field_prefix);

// ChildArrayPath returns the path of the field that fills collection.children[index].
std::string ChildArrayPath(const mapping::CollectionMap &collection, std::size_t index);

// A reference a document needs resolved before it can be written.
struct NeededParent {
	std::string field;		// the document's dotted path
	std::string collection; // the parent's collection
	std::string legacy_id;	// as the document holds it
	std::string key;		// as mosta.id_map keys it (LowercasesIds)
};

// A document ready to be written, but for its references.
struct Candidate {
	const mapping::MappedDocument *doc = nullptr;
	std::string key;				 // its legacy id as id_map keys it
	std::vector<std::string> fields; // the collection table's COPY fields
	// per child table, per element: COPY fields
	std::vector<std::vector<std::vector<std::string>>> elements;
	std::vector<NeededParent> parents;
	bool held = false; // a parent is missing
};

// IdMapKeyText returns legacy_id as mosta.id_map keys ids of collection (ASCII-lowercased when LowercasesIds).
std::string IdMapKeyText(const mapping::Mapping &mapping, const std::string &collection, const std::string &legacy_id);

// PrepareCandidates deduplicates docs (the last of one legacy id wins: it is the newest), turns documents the
// transform rejected or whose values cannot be converted into problems, and returns the others. handled
// receives every legacy id.
std::vector<Candidate> PrepareCandidates(const mapping::Mapping &mapping, CollectionPlan &plan,
										 const std::vector<mapping::MappedDocument> &docs,
										 std::vector<std::string> &handled, std::vector<Problem> &problems);

} // namespace mosta::migrate
