/*
 * version.hpp
 *     What every binary's --version prints: the release (mostajs.control's default_version, the one place it is
 *     written; CMake passes it as MOSTA_VERSION), the change-stream format versions and the catalog version.
 *
 * Regime: plain C++17, header only; for the CMake-built binaries (the extension knows its version from PGXS).
 */
#pragma once

#include <string>

#ifndef MOSTA_VERSION
#error "MOSTA_VERSION is not defined: CMake defines it from mostajs.control"
#endif

namespace mosta {

// kMostaVersion is the release, e.g. "0.1.0".
inline constexpr const char *kMostaVersion = MOSTA_VERSION;

// kProtocolFormatVersions lists the format-version values of the mostajs output plugin this build speaks
// (docs/protocol.md section 4), comma separated: the sidecar asks for 2 (json values as strings, so the JSON null
// and SQL NULL differ); the plugin of this release writes 1 and 2.
inline constexpr const char *kProtocolFormatVersions = "1, 2, 3";

// kCatalogVersion is the version of the mosta catalog (CREATE EXTENSION mostajs) this build reads and writes.
inline constexpr const char *kCatalogVersion = MOSTA_VERSION;

// ProtocolVersionsText returns the lines --version prints after the binary's name and release.
inline std::string
ProtocolVersionsText() {
	return std::string("change-stream protocol format-version ") + kProtocolFormatVersions +
		   " (output plugin mostajs)\ncatalog mostajs " + kCatalogVersion;
}

} // namespace mosta
