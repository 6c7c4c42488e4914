/*
 * web_lookup.cpp
 *     FindWebAsset (see web_assets.hpp); the assets themselves are generated.
 */
#include "web_assets.hpp"

namespace mosta::monitor {

const WebAsset *
FindWebAsset(std::string_view path) noexcept {
	for (const WebAsset &asset : WebAssets())
		if (asset.path == path)
			return &asset;
	return nullptr;
}

} // namespace mosta::monitor
