/*
 * apply_plan.cpp
 *     CollectionPlan and Candidate preparation (apply_plan.hpp).
 */
#include "apply_plan.hpp"

#include <set>

namespace mosta::migrate {

using mapping::ColumnRole;

std::unique_ptr<TablePlan>
MakeTablePlan(const mapping::Mapping &mapping, mapping::TableLayout layout, const std::string &field_prefix) {
	auto plan = std::make_unique<TablePlan>();
	plan->layout = std::move(layout);
	plan->sql = BuildTableStatements(mapping, plan->layout);
	plan->rows = std::make_unique<RowConverter>(plan->layout, field_prefix);
	return plan;
}

std::string
ChildArrayPath(const mapping::CollectionMap &collection, std::size_t index) {
	for (const mapping::FieldMap &field : collection.fields)
		if (field.kind == mapping::FieldKind::ChildTable && field.child == index)
			return field.path;
	return collection.children[index].table;
}

std::string
IdMapKeyText(const mapping::Mapping &mapping, const std::string &collection, const std::string &legacy_id) {
	const mapping::CollectionMap *found = mapping.Find(collection);
	if (found == nullptr || !LowercasesIds(*found))
		return legacy_id;
	std::string key = legacy_id;
	for (char &c : key)
		if (c >= 'A' && c <= 'Z')
			c = static_cast<char>(c - 'A' + 'a');
	return key;
}

namespace {

// AddParents appends the references of row (a row of plan) to parents.
void
AddParents(const mapping::Mapping &mapping, const TablePlan &plan, const mapping::MappedRow &row, std::size_t element,
		   std::vector<NeededParent> &parents) {
	const std::vector<mapping::LayoutColumn> &columns = plan.layout.columns;
	for (std::size_t i = 0; i < columns.size() && i < row.values.size(); ++i) {
		if ((columns[i].role != ColumnRole::Reference && columns[i].role != ColumnRole::PolyId) || !row.values[i])
			continue;
		const std::string &value = *row.values[i];
		parents.push_back(NeededParent{plan.rows->FieldName(i, element), columns[i].references, value,
									   IdMapKeyText(mapping, columns[i].references, value)});
	}
}

// TransformProblems returns the rejected problems of a document the transform refused.
void
AddTransformProblems(const mapping::MappedDocument &doc, std::vector<Problem> &problems) {
	for (const mapping::TransformProblem &problem : doc.problems)
		problems.push_back(Problem{doc.legacy_id, kRejected, problem.field, std::nullopt, std::nullopt, std::nullopt,
								   problem.reason + (problem.value.empty() ? "" : " (value " + problem.value + ")")});
}

} // namespace

std::vector<Candidate>
PrepareCandidates(const mapping::Mapping &mapping, CollectionPlan &plan,
				  const std::vector<mapping::MappedDocument> &docs, std::vector<std::string> &handled,
				  std::vector<Problem> &problems) {
	// the last document of each legacy id, in the order of those last ones
	std::set<std::string> seen;
	std::vector<const mapping::MappedDocument *> latest;
	for (auto doc = docs.rbegin(); doc != docs.rend(); ++doc)
		if (seen.insert(doc->legacy_id).second)
			latest.push_back(&*doc);
	std::vector<Candidate> candidates;
	candidates.reserve(latest.size());
	const std::string &collection = plan.collection->collection;
	for (auto doc = latest.rbegin(); doc != latest.rend(); ++doc) {
		const mapping::MappedDocument &document = **doc;
		handled.push_back(document.legacy_id);
		if (!document.problems.empty()) {
			AddTransformProblems(document, problems);
			continue;
		}
		Candidate candidate;
		candidate.doc = &document;
		candidate.key = IdMapKeyText(mapping, collection, document.legacy_id);
		try {
			candidate.fields = plan.table->rows->Fields(document.row);
			AddParents(mapping, *plan.table, document.row, 0, candidate.parents);
			candidate.elements.resize(plan.children.size());
			for (std::size_t c = 0; c < plan.children.size() && c < document.children.size(); ++c)
				for (std::size_t e = 0; e < document.children[c].size(); ++e) {
					candidate.elements[c].push_back(plan.children[c]->rows->Fields(document.children[c][e], e));
					AddParents(mapping, *plan.children[c], document.children[c][e], e, candidate.parents);
				}
		} catch (const FieldValueError &e) {
			problems.push_back(
				Problem{document.legacy_id, kRejected, e.field, std::nullopt, std::nullopt, std::nullopt, e.what()});
			continue;
		}
		candidates.push_back(std::move(candidate));
	}
	return candidates;
}

} // namespace mosta::migrate
