/*
 * mapping_order.cpp
 *     LoadOrder (mapping.hpp): the collections parents first, so that every reference a child's row holds is mapped
 *     in id_map (and its row exists) before the child is loaded. A collection depends on every other collection its
 *     references, polymorphic references and child-table element references name; a self-reference needs no
 *     order (the rows of one collection are loaded in one pass). Among the collections that are ready, the first
 *     in the file goes first, so the order is deterministic and follows the file where the references allow.
 */
#include <set>
#include <string>
#include <vector>

#include "mapping/mapping.hpp"
#include "mapping/mapping_json.hpp"

namespace mosta::mapping {

namespace {

// Parents returns the indexes (in mapping.collections) of the collections collection i references, other than
// itself and other than names the mapping does not hold (ParseMapping refuses those).
std::set<std::size_t>
Parents(const Mapping &mapping, std::size_t i) {
	std::set<std::size_t> parents;
	const CollectionMap &collection = mapping.collections[i];
	auto add = [&](const FieldMap &field) {
		if (field.kind != FieldKind::Reference && field.kind != FieldKind::Polymorphic)
			return;
		for (std::size_t j = 0; j < mapping.collections.size(); ++j)
			if (j != i && mapping.collections[j].collection == field.references)
				parents.insert(j);
	};
	for (const FieldMap &field : collection.fields)
		add(field);
	for (const ChildMap &child : collection.children)
		for (const FieldMap &field : child.fields)
			add(field);
	return parents;
}

// CyclePath returns one cycle among the collections not yet placed, as "a → b → a" (a references b, ...).
std::string
CyclePath(const Mapping &mapping, const std::vector<std::set<std::size_t>> &parents, const std::vector<bool> &placed) {
	std::size_t start = 0;
	while (placed[start])
		++start;
	// every unplaced collection has an unplaced parent: walk parents until one repeats
	std::vector<std::size_t> walk;
	std::vector<int> seen_at(mapping.collections.size(), -1);
	std::size_t at = start;
	while (seen_at[at] < 0) {
		seen_at[at] = static_cast<int>(walk.size());
		walk.push_back(at);
		for (std::size_t parent : parents[at])
			if (!placed[parent]) {
				at = parent;
				break;
			}
	}
	std::string path;
	for (std::size_t k = static_cast<std::size_t>(seen_at[at]); k < walk.size(); ++k)
		path += mapping.collections[walk[k]].collection + " → ";
	return path + mapping.collections[at].collection;
}

} // namespace

std::vector<const CollectionMap *>
LoadOrder(const Mapping &mapping) {
	std::size_t count = mapping.collections.size();
	std::vector<std::set<std::size_t>> parents(count);
	for (std::size_t i = 0; i < count; ++i)
		parents[i] = Parents(mapping, i);
	std::vector<bool> placed(count, false);
	std::vector<const CollectionMap *> order;
	while (order.size() < count) {
		bool progressed = false;
		for (std::size_t i = 0; i < count && !progressed; ++i) {
			if (placed[i])
				continue;
			bool ready = true;
			for (std::size_t parent : parents[i])
				ready = ready && placed[parent];
			if (ready) {
				placed[i] = true;
				order.push_back(&mapping.collections[i]);
				progressed = true;
			}
		}
		if (!progressed) {
			std::size_t first = 0;
			while (placed[first])
				++first;
			throw MappingError(SourceText(mapping.file, mapping.collections[first].at) +
							   ": the references form a cycle: " + CyclePath(mapping, parents, placed) +
							   "; parents cannot all be loaded before their children: map one of these references "
							   "as a plain column instead (\"type\": \"text\", \"bson\": \"objectId\") and join on "
							   "it after the migration");
		}
	}
	return order;
}

} // namespace mosta::mapping
