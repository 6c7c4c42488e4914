/*
 * web_assets.hpp
 *     The files of monitor/web/, compiled into the binary by monitor/cmake/embed_web.cmake (the generated
 *     web_assets.cpp): the server reads no file at run time.
 */
#pragma once

#include <span>
#include <string_view>

namespace mosta::monitor {

// One embedded file: its URL path ("/dashboard.html"), its Content-Type and its bytes.
struct WebAsset {
	std::string_view path;
	std::string_view content_type;
	std::string_view body;
};

// WebAssets returns every embedded file, sorted by path.
std::span<const WebAsset> WebAssets() noexcept;

// FindWebAsset returns the embedded file at path, or null.
const WebAsset *FindWebAsset(std::string_view path) noexcept;

} // namespace mosta::monitor
