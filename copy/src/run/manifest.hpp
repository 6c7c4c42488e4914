/*
 * manifest.hpp
 *     The manifest of a backup (docs/copy.md, "The manifest"): one JSON file per run, written LAST (after every
 *     destination committed, under a temporary name then renamed), so that its presence says the backup is
 *     complete. It holds what verify checks the files against:
 *       {"format": "mostajs.copy.manifest", "version": 1, "tool": "mosta-copy 0.1.0",
 *        "created": "2026-12-07T02:00:00Z",
 *        "snapshot": {"lsn": "0/16B3748", "time": "...", "source": "postgresql://u:***@h/db"},
 *        "schema": <the schema document (model/schema.hpp)>,
 *        "tables": [{"schema": "zoo", "name": "t", "rows": 10, "checksum": "<64 hex digits>"}, ...],
 *        "files": [{"kind": "sqlite", "path": "daily.sqlite", "bytes": 12345, "crc32c": "1a2b3c4d"},
 *                  {"kind": "json", "path": "json", "bytes": 999, "crc32c": "",
 *                   "parts": [{"path": "json/app.users.json", "bytes": 512, "crc32c": "..."}, ...]}, ...],
 *        "elapsed_ms": 4200}
 *     A file's path is relative to the manifest's directory when it lies inside it (a backup directory can be
 *     moved as a whole), else absolute; a database's path is its URI, credentials masked. A destination that wrote
 *     a directory (a JSON export with one file per table) gets "parts": each regular file in it with its size and
 *     CRC-32C, so that verify names a damaged file there too. A MongoDB copy gets "tables": each table's checksum
 *     as the collection holds it (the MongoDB mapping does not keep every value exactly: json columns,
 *     sub-millisecond times), with the rows and columns that differ from the source's.
 */
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/destination.hpp"
#include "io/endpoint.hpp"
#include "model/schema.hpp"
#include "run/copy_run.hpp"

namespace mosta::copy {

inline constexpr const char *kManifestFormat = "mostajs.copy.manifest";
inline constexpr int kManifestVersion = 1;

// A table as one destination holds it, when that differs from the source's rows: a MongoDB copy, whose mapping
// does not keep every value exactly (io/mongo_backup_destination.hpp); verify checks that file against these.
struct FileTable {
	std::string schema;
	std::string name;
	std::uint64_t rows = 0;
	std::string checksum;
	std::uint64_t inexact_rows = 0;			  // rows held differently from the source's
	std::vector<std::string> inexact_columns; // the columns that differed
};

// One file (or directory, or database) of the manifest; parts: a directory's files; tables: the file's own
// checksums (empty: the manifest's "tables").
struct ManifestFile : WrittenFile {
	std::vector<WrittenFile> parts;
	std::vector<FileTable> tables;
};

struct Manifest {
	std::string tool;	 // "mosta-copy 0.1.0"
	std::string created; // ISO 8601 UTC
	SnapshotInfo snapshot;
	DatabaseSchema schema;
	std::vector<TableResult> tables; // bytes not kept
	std::vector<ManifestFile> files;
	std::int64_t elapsed_ms = 0;
};

// ManifestToJson writes the manifest's JSON text (credentials in the snapshot's source masked).
std::string ManifestToJson(const Manifest &manifest);

// ManifestFromJson reads a manifest's text; throws CopyError naming origin and the field.
Manifest ManifestFromJson(std::string_view json, const std::string &origin);

// WriteManifest writes manifest to path: a directory's parts listed (size and CRC-32C of each file in it), the
// files' paths made relative to path's directory when inside it, written under a temporary name, fsynced and
// renamed (StagedPath); throws CopyError.
void WriteManifest(const std::string &path, Manifest manifest);

// ReadManifest reads the manifest at path; the files' relative paths are resolved against its directory.
Manifest ReadManifest(const std::string &path);

// DefaultManifestPath returns where the manifest of a copy to destinations goes by default: next to the first
// file destination, "DIR/STEM.manifest.json" (daily.sqlite -> daily.manifest.json; a JSON directory
// backups/json/ -> backups/json.manifest.json); "" when no destination is a file (a restore, MongoDB only).
std::string DefaultManifestPath(const std::vector<Endpoint> &destinations);

// IsFileKind says whether endpoints of kind are files (sqlite, sql-dump, json) rather than databases.
bool IsFileKind(EndpointKind kind) noexcept;

// UtcTimeText returns a time as ISO 8601 UTC to the second: "2026-12-07T02:00:00Z".
std::string UtcTimeText(std::int64_t unix_seconds);

} // namespace mosta::copy
