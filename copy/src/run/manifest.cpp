/*
 * manifest.cpp
 *     The manifest's JSON, its path and its atomic write (manifest.hpp).
 */
#include "run/manifest.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/staged_path.hpp"
#include "mosta/common/canonical_row.hpp"
#include "mosta/common/conninfo.hpp"
#include "run/rotation.hpp"
#include "util/json_text.hpp"

namespace mosta::copy {

namespace fs = std::filesystem;
namespace ondemand = simdjson::ondemand;

bool
IsFileKind(EndpointKind kind) noexcept {
	return kind == EndpointKind::Sqlite || kind == EndpointKind::SqlDump || kind == EndpointKind::Json;
}

std::string
UtcTimeText(std::int64_t unix_seconds) {
	std::time_t time = static_cast<std::time_t>(unix_seconds);
	std::tm tm{};
	gmtime_r(&time, &tm);
	char text[32];
	std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return text;
}

std::string
ManifestToJson(const Manifest &manifest) {
	std::string out = "{\n";
	out += "  \"format\": " + JsonQuote(kManifestFormat) + ",\n";
	out += "  \"version\": " + std::to_string(kManifestVersion) + ",\n";
	out += "  \"tool\": " + JsonQuote(manifest.tool) + ",\n";
	out += "  \"created\": " + JsonQuote(manifest.created) + ",\n";
	out += "  \"snapshot\": {\"lsn\": " + JsonQuote(manifest.snapshot.lsn) +
		   ", \"time\": " + JsonQuote(manifest.snapshot.time) +
		   ", \"source\": " + JsonQuote(MaskCredentials(manifest.snapshot.source)) + "},\n";
	SnapshotInfo masked = manifest.snapshot;
	masked.source = MaskCredentials(masked.source);
	out += "  \"schema\": " + SchemaToJson(manifest.schema, masked) + ",\n";
	out += "  \"tables\": [";
	for (std::size_t i = 0; i < manifest.tables.size(); ++i) {
		const TableResult &table = manifest.tables[i];
		out += i == 0 ? "\n    " : ",\n    ";
		out += "{\"schema\": " + JsonQuote(table.schema) + ", \"name\": " + JsonQuote(table.name) +
			   ", \"rows\": " + std::to_string(table.rows) + ", \"checksum\": " + JsonQuote(table.checksum) + "}";
	}
	out += manifest.tables.empty() ? "],\n" : "\n  ],\n";
	out += "  \"files\": [";
	for (std::size_t i = 0; i < manifest.files.size(); ++i) {
		const ManifestFile &file = manifest.files[i];
		out += i == 0 ? "\n    " : ",\n    ";
		out += "{\"kind\": " + JsonQuote(file.kind) + ", \"path\": " + JsonQuote(MaskCredentials(file.path)) +
			   ", \"bytes\": " + std::to_string(file.bytes) + ", \"crc32c\": " + JsonQuote(file.crc32c);
		if (!file.parts.empty()) {
			out += ", \"parts\": [";
			for (std::size_t j = 0; j < file.parts.size(); ++j)
				out += std::string(j == 0 ? "\n      " : ",\n      ") + "{\"path\": " + JsonQuote(file.parts[j].path) +
					   ", \"bytes\": " + std::to_string(file.parts[j].bytes) +
					   ", \"crc32c\": " + JsonQuote(file.parts[j].crc32c) + "}";
			out += "\n    ]";
		}
		if (!file.tables.empty()) {
			out += ", \"tables\": [";
			for (std::size_t j = 0; j < file.tables.size(); ++j) {
				const FileTable &table = file.tables[j];
				out += std::string(j == 0 ? "\n      " : ",\n      ") + "{\"schema\": " + JsonQuote(table.schema) +
					   ", \"name\": " + JsonQuote(table.name) + ", \"rows\": " + std::to_string(table.rows) +
					   ", \"checksum\": " + JsonQuote(table.checksum) +
					   ", \"inexact_rows\": " + std::to_string(table.inexact_rows) + ", \"inexact_columns\": [";
				for (std::size_t c = 0; c < table.inexact_columns.size(); ++c)
					out += (c == 0 ? "" : ", ") + JsonQuote(table.inexact_columns[c]);
				out += "]}";
			}
			out += "\n    ]";
		}
		out += "}";
	}
	out += manifest.files.empty() ? "],\n" : "\n  ],\n";
	out += "  \"elapsed_ms\": " + std::to_string(manifest.elapsed_ms) + "\n}\n";
	return out;
}

namespace {

[[noreturn]] void
Bad(const std::string &origin, const std::string &where, const std::string &what) {
	throw CopyError(origin + ": not a mosta-copy manifest: " + where + ": " + what);
}

std::string
String(ondemand::value value, const std::string &origin, const std::string &where) {
	std::string_view text;
	if (value.get_string().get(text) != simdjson::SUCCESS)
		Bad(origin, where, "expected a string");
	return std::string(text);
}

std::uint64_t
Unsigned(ondemand::value value, const std::string &origin, const std::string &where) {
	std::uint64_t number = 0;
	if (value.get_uint64().get(number) != simdjson::SUCCESS)
		Bad(origin, where, "expected a number");
	return number;
}

std::vector<std::string>
Strings(ondemand::value value, const std::string &origin, const std::string &where) {
	ondemand::array array;
	if (value.get_array().get(array) != simdjson::SUCCESS)
		Bad(origin, where, "expected an array of strings");
	std::vector<std::string> out;
	for (auto element : array)
		out.push_back(String(element.value(), origin, where));
	return out;
}

template <typename Each>
void
Objects(ondemand::value value, const std::string &origin, const std::string &where, Each each) {
	ondemand::array array;
	if (value.get_array().get(array) != simdjson::SUCCESS)
		Bad(origin, where, "expected an array of objects");
	std::size_t index = 0;
	for (auto element : array) {
		ondemand::object object;
		std::string at = where + "[" + std::to_string(index++) + "]";
		if (element.value().get_object().get(object) != simdjson::SUCCESS)
			Bad(origin, at, "expected an object");
		for (auto field : object)
			each(std::string(field.unescaped_key().value()), field.value().value(), at, index - 1);
	}
}

} // namespace

Manifest
ManifestFromJson(std::string_view json, const std::string &origin) {
	Manifest manifest;
	std::string format;
	std::int64_t version = 0;
	bool has_schema = false;
	try {
		sidecar::JsonParse parse(json);
		ondemand::object root;
		if (parse.Document().get_object().get(root) != simdjson::SUCCESS)
			Bad(origin, "the document", "expected an object");
		for (auto field : root) {
			std::string key(field.unescaped_key().value());
			ondemand::value value = field.value().value();
			if (key == "format")
				format = String(value, origin, key);
			else if (key == "version")
				version = static_cast<std::int64_t>(Unsigned(value, origin, key));
			else if (key == "tool")
				manifest.tool = String(value, origin, key);
			else if (key == "created")
				manifest.created = String(value, origin, key);
			else if (key == "elapsed_ms")
				manifest.elapsed_ms = static_cast<std::int64_t>(Unsigned(value, origin, key));
			else if (key == "schema") {
				try {
					manifest.schema = SchemaFromJson(sidecar::RawJsonText(value), &manifest.snapshot);
				} catch (const SchemaError &e) {
					Bad(origin, "schema", e.what());
				}
				has_schema = true;
			} else if (key == "tables")
				Objects(value, origin, key,
						[&](const std::string &k, ondemand::value v, const std::string &at, std::size_t i) {
							if (manifest.tables.size() <= i)
								manifest.tables.emplace_back();
							TableResult &table = manifest.tables[i];
							if (k == "schema")
								table.schema = String(v, origin, at + ".schema");
							else if (k == "name")
								table.name = String(v, origin, at + ".name");
							else if (k == "rows")
								table.rows = Unsigned(v, origin, at + ".rows");
							else if (k == "checksum")
								table.checksum = String(v, origin, at + ".checksum");
						});
			else if (key == "files")
				Objects(value, origin, key,
						[&](const std::string &k, ondemand::value v, const std::string &at, std::size_t i) {
							if (manifest.files.size() <= i)
								manifest.files.emplace_back();
							ManifestFile &file = manifest.files[i];
							if (k == "parts")
								Objects(v, origin, at + ".parts",
										[&](const std::string &pk, ondemand::value pv, const std::string &pat,
											std::size_t j) {
											if (file.parts.size() <= j)
												file.parts.emplace_back();
											WrittenFile &part = file.parts[j];
											part.kind = file.kind;
											if (pk == "path")
												part.path = String(pv, origin, pat + ".path");
											else if (pk == "bytes")
												part.bytes = Unsigned(pv, origin, pat + ".bytes");
											else if (pk == "crc32c")
												part.crc32c = String(pv, origin, pat + ".crc32c");
										});
							else if (k == "tables")
								Objects(v, origin, at + ".tables",
										[&](const std::string &tk, ondemand::value tv, const std::string &tat,
											std::size_t j) {
											if (file.tables.size() <= j)
												file.tables.emplace_back();
											FileTable &table = file.tables[j];
											if (tk == "schema")
												table.schema = String(tv, origin, tat + ".schema");
											else if (tk == "name")
												table.name = String(tv, origin, tat + ".name");
											else if (tk == "rows")
												table.rows = Unsigned(tv, origin, tat + ".rows");
											else if (tk == "checksum")
												table.checksum = String(tv, origin, tat + ".checksum");
											else if (tk == "inexact_rows")
												table.inexact_rows = Unsigned(tv, origin, tat + ".inexact_rows");
											else if (tk == "inexact_columns")
												table.inexact_columns = Strings(tv, origin, tat + ".inexact_columns");
										});
							else if (k == "kind")
								file.kind = String(v, origin, at + ".kind");
							else if (k == "path")
								file.path = String(v, origin, at + ".path");
							else if (k == "bytes")
								file.bytes = Unsigned(v, origin, at + ".bytes");
							else if (k == "crc32c")
								file.crc32c = String(v, origin, at + ".crc32c");
						});
		}
		parse.ExpectEnd();
	} catch (const simdjson::simdjson_error &e) {
		throw CopyError(origin + ": not a mosta-copy manifest: not valid JSON (" + sidecar::JsonErrorText(e) + ")");
	}
	if (format != kManifestFormat)
		Bad(origin, "format", "expected \"" + std::string(kManifestFormat) + "\"");
	if (version < 1 || version > kManifestVersion)
		Bad(origin, "version",
			"version " + std::to_string(version) + " is not one this mosta-copy reads (1 to " +
				std::to_string(kManifestVersion) + "): use a newer mosta-copy");
	if (!has_schema)
		Bad(origin, "schema", "missing");
	return manifest;
}

namespace {

bool
IsDatabaseKind(const std::string &kind) {
	return kind == "postgres" || kind == "mongodb";
}

// ListParts fills a directory's parts: each regular file in it, by name, with its size and CRC-32C.
void
ListParts(ManifestFile &file) {
	std::error_code error;
	if (IsDatabaseKind(file.kind) || !fs::is_directory(file.path, error))
		return;
	std::vector<std::string> names;
	for (const fs::directory_entry &entry : fs::directory_iterator(file.path, error))
		if (entry.is_regular_file())
			names.push_back(entry.path().filename().string());
	if (error)
		throw CopyError("cannot list " + file.path + " for the manifest: " + error.message());
	std::sort(names.begin(), names.end());
	for (const std::string &name : names) {
		WrittenFile part{file.kind, (fs::path(file.path) / name).string(), 0, ""};
		part.crc32c = FileCrc32c(part.path, &part.bytes);
		file.parts.push_back(part);
	}
}

// Relative returns path relative to directory when inside it, else absolute.
std::string
Relative(const std::string &path, const fs::path &directory) {
	std::error_code error;
	fs::path absolute = fs::absolute(fs::path(path), error).lexically_normal();
	fs::path relative = absolute.lexically_relative(directory);
	bool inside = !relative.empty() && relative.begin()->string() != "..";
	return inside ? relative.string() : absolute.string();
}

// Resolved returns a manifest's relative path resolved against its directory (a trailing '/' kept).
std::string
Resolved(const std::string &path, const fs::path &directory) {
	if (path.empty() || path[0] == '/')
		return path;
	std::string resolved = (directory / path).lexically_normal().string();
	if (path.back() == '/' && resolved.back() != '/')
		resolved += '/';
	return resolved;
}

} // namespace

void
WriteManifest(const std::string &path, Manifest manifest) {
	std::error_code error;
	fs::path directory = fs::absolute(fs::path(path), error).parent_path().lexically_normal();
	for (ManifestFile &file : manifest.files) {
		if (IsDatabaseKind(file.kind))
			continue;
		if (file.parts.empty())
			ListParts(file);
		file.path = Relative(file.path, directory);
		for (WrittenFile &part : file.parts)
			part.path = Relative(part.path, directory);
	}
	std::string text = ManifestToJson(manifest);
	StagedPath staged(path);
	{
		std::ofstream out(staged.Temporary(), std::ios::binary | std::ios::trunc);
		out << text;
		out.flush();
		if (!out)
			throw CopyError("cannot write the manifest " + staged.Temporary());
	}
	staged.Publish();
}

Manifest
ReadManifest(const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw CopyError("cannot read the manifest " + path + ": no such file or not readable");
	std::stringstream text;
	text << in.rdbuf();
	Manifest manifest = ManifestFromJson(text.str(), path);
	fs::path directory = fs::path(path).parent_path();
	for (ManifestFile &file : manifest.files) {
		if (IsDatabaseKind(file.kind))
			continue;
		file.path = Resolved(file.path, directory);
		for (WrittenFile &part : file.parts)
			part.path = Resolved(part.path, directory);
	}
	return manifest;
}

std::string
DefaultManifestPath(const std::vector<Endpoint> &destinations) {
	for (const Endpoint &destination : destinations) {
		if (!IsFileKind(destination.kind))
			continue;
		std::string target = destination.target;
		while (target.size() > 1 && target.back() == '/')
			target.pop_back();
		fs::path path(target);
		auto [stem, extension] = SplitExtension(path.filename().string());
		return (path.parent_path() / (stem + kManifestExtension)).string();
	}
	return "";
}

} // namespace mosta::copy
