/*
 * apply.cpp
 *     Applier (apply.hpp). One Upsert call:
 *       1. PrepareCandidates: the last version of each document; documents the transform refused or whose values
 *          cannot be converted become 'rejected' problems.
 *       2. HoldBack: references are looked up in their parent tables (a row whose id is id_map's uuid of the
 *          legacy id); a reference to a document of the same batch resolves if that document is written too
 *          (iterated: a chain held back at one link is held back whole). Documents with a missing parent become
 *          'missing_parent' problems, one per reference.
 *       3. ApplyGroup, under a savepoint: the documents' own uuids (mosta_map_ids: self-references then resolve
 *          through id_map in the same statement), the COPY into the staging tables and the upserts. A document-level
 *          error (data, integrity, a trigger's exception) rolls the savepoint back and retries the two halves, down
 *          to single documents, which are rejected with the SQLSTATE and message; any other error is the
 *          session's and propagates.
 *       4. RecordProblems: the batch's documents end up with exactly their current problems.
 */
#include "apply.hpp"

#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "apply_plan.hpp"
#include "mosta/common/identifiers.hpp"
#include "pg/errors.hpp"

namespace mosta::migrate {

using mapping::ColumnRole;

ApplyCounts &
ApplyCounts::operator+=(const ApplyCounts &other) noexcept {
	applied += other.applied;
	unchanged += other.unchanged;
	missing_parent += other.missing_parent;
	rejected += other.rejected;
	deleted += other.deleted;
	return *this;
}

namespace {

// IsDocumentError tells whether a failed statement is the fault of the documents it wrote (retrying without the
// culprit helps), as opposed to the session's, the schema's or the privileges' (it would fail for every document).
bool
IsDocumentError(const sidecar::PgError &error) {
	static const std::set<std::string> kClasses = {"21", "22", "23", "27", "2F", "38", "39", "44", "P0"};
	return error.SqlState().size() == 5 && kClasses.count(error.SqlState().substr(0, 2)) != 0;
}

// Rows returns the first column of every row of result.
std::vector<std::string>
Rows(const PGresult *result) {
	std::vector<std::string> rows;
	for (int i = 0; i < PQntuples(result); ++i)
		rows.emplace_back(PQgetvalue(result, i, 0));
	return rows;
}

// ErrorText returns the error's message with its detail.
std::string
ErrorText(const sidecar::PgError &error) {
	return error.Detail().empty() ? error.Message() : error.Message() + " (" + error.Detail() + ")";
}

} // namespace

struct Applier::Impl {
	sidecar::PgSession &session;
	const mapping::Mapping &mapping;
	std::map<std::string, std::unique_ptr<CollectionPlan>> plans;
	// RememberWritten: per collection, the rows known to exist (committed): id_map key -> uuid; those the open
	// transaction wrote (collection, key, uuid) are pending until Committed
	bool remember = false;
	std::set<std::string> referenced; // the collections some reference names: only theirs are remembered
	std::map<std::string, std::unordered_map<std::string, std::string>> known;
	std::vector<std::tuple<std::string, std::string, std::string>> pending;
	std::vector<std::pair<std::string, std::string>> allocated; // ApplyOnce's (key, uuid) pairs

	CollectionPlan &Plan(const mapping::CollectionMap &collection);
	void HoldBack(std::vector<Candidate> &candidates, const mapping::CollectionMap &collection,
				  std::vector<Problem> &problems);
	std::unordered_set<std::string> ExistingParents(const std::string &collection,
													const std::unordered_set<std::string> &keys);
	void ApplyGroup(CollectionPlan &plan, std::vector<Candidate *> group, ApplyCounts &counts,
					std::vector<Problem> &problems);
	ApplyCounts ApplyOnce(CollectionPlan &plan, const std::vector<Candidate *> &group);
	void AppendCopyLine(std::string &data, const TablePlan &table, const std::vector<std::string> &fields,
						const mapping::MappedRow &row, const std::string &id);
	Problem Rejection(CollectionPlan &plan, const Candidate &candidate, const sidecar::PgError &error);
	std::string ProbeField(CollectionPlan &plan, const Candidate &candidate);
	void DeleteGroup(const std::string &table, const std::string &legacy_column, std::vector<std::string> ids,
					 ApplyCounts &counts, std::vector<Problem> &problems);
};

CollectionPlan &
Applier::Impl::Plan(const mapping::CollectionMap &collection) {
	std::unique_ptr<CollectionPlan> &plan = plans[collection.collection];
	if (plan == nullptr) {
		plan = std::make_unique<CollectionPlan>();
		plan->collection = &collection;
		plan->table = MakeTablePlan(mapping, mapping::CollectionLayout(mapping, collection), "");
		for (std::size_t i = 0; i < collection.children.size(); ++i)
			plan->children.push_back(
				MakeTablePlan(mapping, mapping::ChildLayout(mapping, collection, i), ChildArrayPath(collection, i)));
	}
	return *plan;
}

std::unordered_set<std::string>
Applier::Impl::ExistingParents(const std::string &collection, const std::unordered_set<std::string> &keys) {
	const mapping::CollectionMap *parent = mapping.Find(collection);
	if (parent == nullptr)
		throw mapping::MappingError("a reference names collection \"" + collection + "\", which the mapping lacks");
	std::unordered_set<std::string> found;
	std::vector<std::string> unknown;
	auto known_keys = known.find(collection);
	for (const std::string &key : keys)
		if (known_keys != known.end() && known_keys->second.count(key) != 0)
			found.insert(key);
		else
			unknown.push_back(key);
	if (unknown.empty())
		return found;
	// the parent row must exist with id_map's uuid: that is what the foreign key will check
	std::string sql = "SELECT u FROM unnest($1::text[]) AS u WHERE EXISTS (SELECT 1 FROM mosta.id_map m JOIN " +
					  QuoteQualifiedName(mapping.schema, parent->table) + " p ON p." +
					  QuoteIdentifier(parent->id_column) + " = m.new_id WHERE m.collection = $2 AND m.legacy_id = u)";
	std::string values = TextArrayLiteral(unknown);
	sidecar::PgResultHandle result =
		session.Query(sql, {values.c_str(), collection.c_str()}, "looking up the parents in " + parent->table);
	for (std::string &row : Rows(result.get()))
		found.insert(std::move(row));
	return found;
}

void
Applier::Impl::HoldBack(std::vector<Candidate> &candidates, const mapping::CollectionMap &collection,
						std::vector<Problem> &problems) {
	// hashed: a batch holds thousands of keys (ordered sets of them cost more than the lookups they serve)
	std::map<std::string, std::unordered_set<std::string>> wanted;
	for (const Candidate &candidate : candidates)
		for (const NeededParent &parent : candidate.parents)
			wanted[parent.collection].insert(parent.key);
	std::map<std::string, std::unordered_set<std::string>> existing;
	for (const auto &[parent, keys] : wanted)
		existing[parent] = ExistingParents(parent, keys);
	std::unordered_map<std::string, Candidate *> in_batch;
	for (Candidate &candidate : candidates)
		in_batch[candidate.key] = &candidate;
	// a reference to a document of this batch resolves while that document is not held back itself
	for (bool changed = true; changed;) {
		changed = false;
		for (Candidate &candidate : candidates) {
			if (candidate.held)
				continue;
			for (const NeededParent &parent : candidate.parents) {
				if (existing[parent.collection].count(parent.key) != 0)
					continue;
				auto sibling = parent.collection == collection.collection ? in_batch.find(parent.key) : in_batch.end();
				if (sibling != in_batch.end() && !sibling->second->held)
					continue;
				candidate.held = changed = true;
				break;
			}
		}
	}
	for (const Candidate &candidate : candidates) {
		if (!candidate.held)
			continue;
		for (const NeededParent &parent : candidate.parents) {
			if (existing[parent.collection].count(parent.key) != 0)
				continue;
			auto found = parent.collection == collection.collection ? in_batch.find(parent.key) : in_batch.end();
			bool sibling = found != in_batch.end();
			if (sibling && !found->second->held)
				continue; // that parent is written: not this document's problem
			std::string message = "parent " + parent.collection + " " + parent.legacy_id +
								  (sibling ? " is held back itself (a missing parent)" : " is not in PostgreSQL yet");
			problems.push_back(Problem{candidate.doc->legacy_id, kMissingParent, parent.field, parent.collection,
									   parent.legacy_id, std::nullopt, message});
		}
	}
}

ApplyCounts
Applier::Impl::ApplyOnce(CollectionPlan &plan, const std::vector<Candidate *> &group) {
	const std::string &collection = plan.collection->collection;
	allocated.clear();
	std::vector<std::string> legacy;
	for (const Candidate *candidate : group)
		legacy.push_back(candidate->doc->legacy_id);
	std::string legacy_array = TextArrayLiteral(legacy);
	sidecar::PgResultHandle mapped =
		session.Query("SELECT u::text FROM unnest(mosta_map_ids($1, $2::text[])) WITH ORDINALITY AS m(u, n) ORDER BY n",
					  {collection.c_str(), legacy_array.c_str()}, "mapping the ids of " + collection);
	std::vector<std::string> ids = Rows(mapped.get());
	if (ids.size() != group.size())
		throw sidecar::PgError("mapping the ids of " + collection + " in " + session.Described(), "",
							   "mosta_map_ids returned " + std::to_string(ids.size()) + " uuids for " +
								   std::to_string(group.size()) + " legacy ids");
	allocated.clear();
	if (remember && referenced.count(collection) != 0)
		for (std::size_t i = 0; i < group.size(); ++i)
			allocated.emplace_back(group[i]->key, ids[i]);
	std::set<std::string> written;
	std::string data;
	for (std::size_t i = 0; i < group.size(); ++i)
		AppendCopyLine(data, *plan.table, group[i]->fields, group[i]->doc->row, ids[i]);
	std::string truncate = "TRUNCATE pg_temp." + plan.table->sql.stage;
	session.CopyIn(plan.table->sql.copy, data, "staging the documents of " + collection);
	for (const std::string &id :
		 Rows(session.Query(plan.table->sql.upsert, {}, "writing " + plan.table->layout.table).get()))
		written.insert(id);
	for (std::size_t c = 0; c < plan.children.size(); ++c) {
		const TablePlan &child = *plan.children[c];
		data.clear();
		std::vector<std::string> lengths;
		for (std::size_t i = 0; i < group.size(); ++i) {
			for (std::size_t e = 0; e < group[i]->elements[c].size(); ++e)
				AppendCopyLine(data, child, group[i]->elements[c][e], group[i]->doc->children[c][e], ids[i]);
			lengths.push_back(std::to_string(group[i]->elements[c].size()));
		}
		if (!data.empty()) {
			session.CopyIn(child.sql.copy, data, "staging the elements of " + child.layout.table);
			for (const std::string &id :
				 Rows(session.Query(child.sql.upsert, {}, "writing " + child.layout.table).get()))
				written.insert(id);
			truncate += ", pg_temp." + child.sql.stage;
		}
		std::string id_array = TextArrayLiteral(ids), length_array = TextArrayLiteral(lengths);
		for (const std::string &id : Rows(session
											  .Query(child.sql.trim, {id_array.c_str(), length_array.c_str()},
													 "deleting the elements beyond the arrays of " + child.layout.table)
											  .get()))
			written.insert(id);
	}
	session.Exec(truncate, "emptying the staging tables");
	ApplyCounts counts;
	for (const std::string &id : ids)
		if (written.count(id) != 0)
			++counts.applied;
	counts.unchanged = static_cast<std::int64_t>(group.size()) - counts.applied;
	return counts;
}

void
Applier::Impl::AppendCopyLine(std::string &data, const TablePlan &table, const std::vector<std::string> &fields,
							  const mapping::MappedRow &row, const std::string &id) {
	JoinCopyLine(data, fields, table.sql.key_column, id);
	if (table.sql.resolved.empty())
		return;
	data.pop_back(); // the newline: the references' uuids follow, those this applier wrote itself, else \N
	for (std::size_t i : table.sql.resolved) {
		const std::string *uuid = nullptr;
		const std::string &parent = table.layout.columns[i].references;
		auto found = known.find(parent);
		if (found != known.end() && i < row.values.size() && row.values[i]) {
			auto entry = found->second.find(IdMapKeyText(mapping, parent, *row.values[i]));
			if (entry != found->second.end())
				uuid = &entry->second;
		}
		data += '\t';
		data += uuid != nullptr ? *uuid : "\\N";
	}
	data += '\n';
}

void
Applier::Impl::ApplyGroup(CollectionPlan &plan, std::vector<Candidate *> group, ApplyCounts &counts,
						  std::vector<Problem> &problems) {
	if (group.empty())
		return;
	session.Exec("SAVEPOINT mosta_apply", "starting a savepoint");
	try {
		ApplyCounts done = ApplyOnce(plan, group);
		session.Exec("RELEASE SAVEPOINT mosta_apply", "releasing a savepoint");
		counts += done;
		for (auto &[key, id] : allocated)
			pending.emplace_back(plan.collection->collection, std::move(key), std::move(id));
		allocated.clear();
		return;
	} catch (const sidecar::PgError &e) {
		if (!IsDocumentError(e) || !session.TryExec("ROLLBACK TO SAVEPOINT mosta_apply; RELEASE SAVEPOINT mosta_apply"))
			throw;
		if (group.size() == 1) {
			problems.push_back(Rejection(plan, *group[0], e));
			++counts.rejected;
			return;
		}
	}
	std::size_t half = group.size() / 2;
	ApplyGroup(plan, std::vector<Candidate *>(group.begin(), group.begin() + static_cast<std::ptrdiff_t>(half)), counts,
			   problems);
	ApplyGroup(plan, std::vector<Candidate *>(group.begin() + static_cast<std::ptrdiff_t>(half), group.end()), counts,
			   problems);
}

std::string
Applier::Impl::ProbeField(CollectionPlan &plan, const Candidate &candidate) {
	// a data exception names no column: cast the document's values one by one to find the culprit
	auto probe = [&](TablePlan &table, const mapping::MappedRow &row, std::size_t element) -> std::string {
		for (std::size_t i = 0; i < table.layout.columns.size() && i < row.values.size(); ++i) {
			const mapping::LayoutColumn &column = table.layout.columns[i];
			if ((column.role != ColumnRole::Value && column.role != ColumnRole::Extra) || !row.values[i])
				continue;
			std::string text = table.rows->PgText(*row.values[i], i);
			std::string sql = "SELECT $1::" + column.type;
			if (!session.TryExec("SAVEPOINT mosta_probe"))
				return "";
			sidecar::PgResultHandle result(PQexecParams(session.Get(), sql.c_str(), 1, nullptr,
														std::vector<const char *>{text.c_str()}.data(), nullptr,
														nullptr, 0));
			bool ok = result != nullptr && PQresultStatus(result.get()) == PGRES_TUPLES_OK;
			session.TryExec(ok ? "RELEASE SAVEPOINT mosta_probe"
							   : "ROLLBACK TO SAVEPOINT mosta_probe; RELEASE SAVEPOINT mosta_probe");
			if (!ok)
				return table.rows->FieldName(i, element);
		}
		return "";
	};
	std::string field = probe(*plan.table, candidate.doc->row, 0);
	for (std::size_t c = 0; field.empty() && c < plan.children.size() && c < candidate.doc->children.size(); ++c)
		for (std::size_t e = 0; field.empty() && e < candidate.doc->children[c].size(); ++e)
			field = probe(*plan.children[c], candidate.doc->children[c][e], e);
	return field;
}

Problem
Applier::Impl::Rejection(CollectionPlan &plan, const Candidate &candidate, const sidecar::PgError &error) {
	std::string field;
	const std::string &state = error.SqlState();
	if (state.rfind("22", 0) == 0)
		field = ProbeField(plan, candidate);
	if (state == "22023" && field.empty() && error.Message().find("legacy id") != std::string::npos)
		field = "_id";
	if (field.empty() && (state == "23502" || state == "23514")) {
		// "null value in column "x" of relation ...": name the document's field of that column
		for (std::size_t i = 0; i < plan.table->layout.columns.size() && field.empty(); ++i)
			if (error.Message().find("\"" + plan.table->layout.columns[i].name + "\"") != std::string::npos)
				field = plan.table->rows->FieldName(i);
	}
	return Problem{candidate.doc->legacy_id, kRejected, field, std::nullopt, std::nullopt, state, ErrorText(error)};
}

Applier::Applier(sidecar::PgSession &session, const mapping::Mapping &mapping)
	: impl_(new Impl{session, mapping, {}, false, {}, {}, {}, {}}) {}

Applier::~Applier() {
	delete impl_;
}

ApplyCounts
Applier::Upsert(const mapping::CollectionMap &collection, const std::vector<mapping::MappedDocument> &docs) {
	ApplyCounts counts;
	if (docs.empty())
		return counts;
	CollectionPlan &plan = impl_->Plan(collection);
	std::vector<std::string> handled;
	std::vector<Problem> problems;
	std::vector<Candidate> candidates = PrepareCandidates(impl_->mapping, plan, docs, handled, problems);
	counts.rejected = static_cast<std::int64_t>(handled.size() - candidates.size());
	impl_->HoldBack(candidates, collection, problems);
	std::vector<Candidate *> group;
	for (Candidate &candidate : candidates)
		if (candidate.held)
			++counts.missing_parent;
		else
			group.push_back(&candidate);
	if (!group.empty()) {
		// created once per session (IF NOT EXISTS: again after a rolled-back transaction took them away); no JIT:
		// a batch's statements are estimated costly enough for it, and compiling took longer than it saved
		std::string create =
			"SET LOCAL client_min_messages = warning; SET LOCAL jit = off; " + plan.table->sql.create_stage;
		for (const auto &child : plan.children)
			create += "; " + child->sql.create_stage;
		impl_->session.Exec(create, "creating the staging tables");
		impl_->ApplyGroup(plan, group, counts, problems);
	}
	RecordProblems(impl_->session, impl_->mapping.name, collection.collection, handled, problems);
	return counts;
}

void
Applier::Impl::DeleteGroup(const std::string &table, const std::string &legacy_column, std::vector<std::string> ids,
						   ApplyCounts &counts, std::vector<Problem> &problems) {
	if (ids.empty())
		return;
	session.Exec("SAVEPOINT mosta_apply", "starting a savepoint");
	try {
		std::string id_array = TextArrayLiteral(ids);
		sidecar::PgResultHandle result =
			session.Query("DELETE FROM " + table + " WHERE " + legacy_column + " = ANY ($1::text[])",
						  {id_array.c_str()}, "deleting from " + table);
		session.Exec("RELEASE SAVEPOINT mosta_apply", "releasing a savepoint");
		const char *count = PQcmdTuples(result.get());
		counts.deleted += count != nullptr && *count != '\0' ? std::stoll(count) : 0;
		return;
	} catch (const sidecar::PgError &e) {
		if (!IsDocumentError(e) || !session.TryExec("ROLLBACK TO SAVEPOINT mosta_apply; RELEASE SAVEPOINT mosta_apply"))
			throw;
		if (ids.size() == 1) {
			problems.push_back(Problem{ids[0], kRejected, "", std::nullopt, std::nullopt, e.SqlState(),
									   "delete refused: " + ErrorText(e)});
			++counts.rejected;
			return;
		}
	}
	std::size_t half = ids.size() / 2;
	DeleteGroup(table, legacy_column,
				std::vector<std::string>(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(half)), counts,
				problems);
	DeleteGroup(table, legacy_column,
				std::vector<std::string>(ids.begin() + static_cast<std::ptrdiff_t>(half), ids.end()), counts, problems);
}

void
Applier::RememberWritten() {
	impl_->remember = true;
	for (const mapping::CollectionMap &collection : impl_->mapping.collections) {
		for (const mapping::FieldMap &field : collection.fields)
			if (!field.references.empty())
				impl_->referenced.insert(field.references);
		for (const mapping::ChildMap &child : collection.children)
			for (const mapping::FieldMap &field : child.fields)
				if (!field.references.empty())
					impl_->referenced.insert(field.references);
	}
}

void
Applier::Committed() {
	for (auto &[collection, key, id] : impl_->pending)
		impl_->known[collection].insert_or_assign(std::move(key), std::move(id));
	impl_->pending.clear();
}

void
Applier::Forget() noexcept {
	impl_->pending.clear();
}

ApplyCounts
Applier::Delete(const mapping::CollectionMap &collection, const std::vector<std::string> &legacy_ids) {
	ApplyCounts counts;
	if (legacy_ids.empty())
		return counts;
	if (impl_->remember) { // rows may go: the next references look them up again
		impl_->known.erase(collection.collection);
		impl_->pending.clear();
	}
	std::vector<Problem> problems;
	std::set<std::string> unique(legacy_ids.begin(), legacy_ids.end());
	std::vector<std::string> ids(unique.begin(), unique.end());
	impl_->DeleteGroup(QuoteQualifiedName(impl_->mapping.schema, collection.table),
					   QuoteIdentifier(collection.legacy_id_column), ids, counts, problems);
	RecordProblems(impl_->session, impl_->mapping.name, collection.collection, ids, problems);
	return counts;
}

} // namespace mosta::migrate
