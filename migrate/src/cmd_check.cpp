/*
 * cmd_check.cpp
 *     `mosta-migrate check MAPPING`: reads and validates the mapping (every error with its FILE:LINE:COL and the
 *     fix, docs/migration-mapping.md) and prints the collections in load order, parents first, with their tables,
 *     references and child tables: what backfill will do, in the order it will do it. Exit 0 when valid, 1 when not.
 */
#include <cstdio>
#include <set>
#include <string>

#include "commands.hpp"
#include "mapping/mapping.hpp"

namespace mosta::migrate {

namespace {

using mapping::CollectionMap;
using mapping::FieldKind;
using mapping::FieldMap;

// Parents lists the other collections c references (by field, polymorphic field or child element), sorted.
std::string
Parents(const CollectionMap &c) {
	std::set<std::string> names;
	auto add = [&](const FieldMap &field) {
		if ((field.kind == FieldKind::Reference || field.kind == FieldKind::Polymorphic) &&
			field.references != c.collection)
			names.insert(field.references);
	};
	for (const FieldMap &field : c.fields)
		add(field);
	for (const mapping::ChildMap &child : c.children)
		for (const FieldMap &field : child.fields)
			add(field);
	std::string out;
	for (const std::string &name : names)
		out += (out.empty() ? "" : ", ") + name;
	return out;
}

bool
SelfReferencing(const CollectionMap &c) {
	for (const FieldMap &field : c.fields)
		if ((field.kind == FieldKind::Reference || field.kind == FieldKind::Polymorphic) &&
			field.references == c.collection)
			return true;
	return false;
}

} // namespace

int
RunCheck(CommandLine &line) {
	const std::string &file = line.Positional(0, "MAPPING");
	line.Finish();
	mapping::Mapping mapping = mapping::LoadMapping(file);
	std::vector<const CollectionMap *> order = mapping::LoadOrder(mapping);
	std::size_t tables = 0;
	for (const CollectionMap &c : mapping.collections)
		tables += 1 + c.children.size();
	std::printf("mapping %s (%s): valid; %zu collections, %zu tables in schema %s; load order:\n", mapping.name.c_str(),
				file.c_str(), mapping.collections.size(), tables, mapping.schema.c_str());
	int position = 0;
	for (const CollectionMap *c : order) {
		std::size_t columns = 0;
		for (const FieldMap &field : c->fields)
			columns += field.kind == FieldKind::Polymorphic ? 3 : field.kind == FieldKind::ChildTable ? 0 : 1;
		std::printf("  %d. %s → %s (id policy %s, %zu mapped column%s", ++position, c->collection.c_str(),
					c->table.c_str(), mapping::IdPolicyName(c->id_policy), columns, columns == 1 ? "" : "s");
		std::string parents = Parents(*c);
		if (!parents.empty())
			std::printf("; after %s", parents.c_str());
		if (SelfReferencing(*c))
			std::printf("; references itself");
		std::printf(")\n");
		for (const FieldMap &field : c->fields)
			if (field.kind == FieldKind::ChildTable) {
				const mapping::ChildMap &child = c->children[field.child];
				std::printf("       %s[] → child table %s (%s, %s)\n", field.path.c_str(), child.table.c_str(),
							child.parent_column.c_str(), child.position_column.c_str());
			}
		for (const mapping::IndexMap &index : c->indexes)
			if (index.kind == mapping::IndexMap::Kind::Ttl)
				std::printf("       ttl: rows expire %s after %s\n", index.ttl.c_str(), index.columns[0].c_str());
	}
	for (const mapping::CounterMap &counter : mapping.counters) {
		std::string key;
		for (const std::string &column : counter.key_columns)
			key += (key.empty() ? "" : ", ") + column;
		std::printf("  counter %s: max(%s.%s) per (%s)\n", counter.scope.c_str(), counter.collection.c_str(),
					counter.value_column.c_str(), key.c_str());
	}
	return 0;
}

} // namespace mosta::migrate
