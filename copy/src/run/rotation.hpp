/*
 * rotation.hpp
 *     --keep N: dated backups. Each file destination's final name gets the run's UTC time before its extension
 *     ("daily.sqlite" -> "daily-20261207T020000Z.sqlite", a JSON directory "json/" -> "json-20261207T020000Z/",
 *     the manifest "daily.manifest.json" -> "daily-20261207T020000Z.manifest.json"), and after a successful run
 *     only the N newest dated names of each are kept. Only names of exactly that pattern (STEM-YYYYMMDDTHHMMSSZEXT
 *     in the same directory) are ever removed.
 */
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace mosta::copy {

// kManifestExtension is the manifest's extension, kept whole when a name is dated.
inline constexpr const char *kManifestExtension = ".manifest.json";

// RunStamp returns the run's UTC time as the dated names carry it: "20261207T020000Z".
std::string RunStamp(std::chrono::system_clock::time_point time);

// SplitExtension splits a file name into stem and extension: "daily.sqlite" -> ("daily", ".sqlite"),
// "daily.manifest.json" -> ("daily", ".manifest.json"), "daily" and ".hidden" -> (name, "").
std::pair<std::string, std::string> SplitExtension(const std::string &name);

// DatedPath returns path with "-STAMP" inserted before its extension (a trailing '/' kept).
std::string DatedPath(const std::string &path, const std::string &stamp);

// RotateDated removes all but the keep newest dated names of path (its undated final path: the pattern's
// source) in path's directory; returns the paths removed. Errors removing one are returned in *errors (and the
// others are still tried).
std::vector<std::string> RotateDated(const std::string &path, int keep, std::vector<std::string> *errors);

} // namespace mosta::copy
