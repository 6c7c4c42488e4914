/*
 * verify_select.cpp
 *     SelectCollections (verify_select.hpp).
 */
#include "verify_select.hpp"

#include <set>
#include <sstream>

#include "command_line.hpp"

namespace mosta::migrate {

std::vector<const mapping::CollectionMap *>
SelectCollections(const mapping::Mapping &mapping, const std::optional<std::string> &list) {
	std::vector<const mapping::CollectionMap *> ordered = mapping::LoadOrder(mapping);
	if (!list)
		return ordered;
	std::set<std::string> wanted;
	std::stringstream items(*list);
	for (std::string name; std::getline(items, name, ',');) {
		if (name.empty())
			continue;
		if (mapping.Find(name) == nullptr) {
			std::string known;
			for (const mapping::CollectionMap &collection : mapping.collections)
				known += (known.empty() ? "" : ", ") + collection.collection;
			throw UsageError("--collections: the mapping has no collection \"" + name + "\" (it has: " + known + ")");
		}
		wanted.insert(name);
	}
	if (wanted.empty())
		throw UsageError("--collections names no collection");
	std::vector<const mapping::CollectionMap *> selected;
	for (const mapping::CollectionMap *collection : ordered)
		if (wanted.count(collection->collection) != 0)
			selected.push_back(collection);
	return selected;
}

} // namespace mosta::migrate
