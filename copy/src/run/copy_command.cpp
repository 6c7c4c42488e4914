/*
 * copy_command.cpp
 *     One copy run (copy_command.hpp).
 */
#include "run/copy_command.hpp"

#include <unistd.h>

#include <filesystem>
#include <map>

#include "io/mongo_backup_destination.hpp"
#include "io/open.hpp"
#include "io/staged_path.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/version.hpp"
#include "run/copy_run.hpp"
#include "run/manifest.hpp"
#include "run/progress.hpp"
#include "run/rotation.hpp"
#include "run/table_select.hpp"

namespace mosta::copy {

namespace {

// SourceGuard closes the source when the run ends, however it ends.
struct SourceGuard {
	Source *source = nullptr;
	~SourceGuard() {
		if (source != nullptr)
			source->Close();
	}
};

std::string
FileTarget(const Endpoint &endpoint) {
	std::string target = endpoint.target;
	while (target.size() > 1 && target.back() == '/')
		target.pop_back();
	return target;
}

std::string
Summary(const CopyResult &result, std::size_t destinations, const SnapshotInfo &snapshot, const std::string &manifest) {
	char text[512];
	std::snprintf(text, sizeof text, "mosta-copy: ok: %zu table%s, %llu rows, %zu destination%s, %s read in %.1f s",
				  result.tables.size(), result.tables.size() == 1 ? "" : "s",
				  static_cast<unsigned long long>(result.rows), destinations, destinations == 1 ? "" : "s",
				  FormatBytes(result.bytes).c_str(), static_cast<double>(result.elapsed.count()) / 1000.0);
	std::string line = text;
	if (!snapshot.lsn.empty())
		line += " (snapshot " + snapshot.lsn + ")";
	if (!manifest.empty())
		line += ", manifest " + manifest;
	return line;
}

// Fail prints the failure line and returns status.
int
Fail(std::FILE *err, const std::string &reason, int status) {
	std::fprintf(err, "mosta-copy: FAILED: %s\n", MaskCredentialsInText(reason).c_str());
	std::fflush(err);
	return status;
}

// The names a run writes: each file destination's final path (dated with --keep) and the manifest's.
struct RunNames {
	std::vector<Endpoint> destinations;
	std::string manifest;		  // "" for none
	std::string undated_manifest; // the pattern --keep rotates
};

RunNames
PlanNames(const Options &options, std::chrono::system_clock::time_point now) {
	RunNames names;
	const std::string stamp = RunStamp(now);
	names.destinations = options.destinations;
	for (Endpoint &endpoint : names.destinations)
		if (options.keep > 0 && IsFileKind(endpoint.kind))
			endpoint.target = DatedPath(endpoint.target, stamp);
	names.undated_manifest = !options.manifest.empty() ? options.manifest : DefaultManifestPath(options.destinations);
	names.manifest = names.undated_manifest;
	if (options.keep > 0 && !names.manifest.empty())
		names.manifest = DatedPath(names.manifest, stamp);
	// two files under one name would share their temporary and overwrite each other
	std::map<std::string, std::string> seen; // normal absolute path -> what writes it
	auto claim = [&](const std::string &path, const std::string &what) {
		std::error_code error;
		std::string normal = std::filesystem::absolute(path, error).lexically_normal().string();
		while (normal.size() > 1 && normal.back() == '/')
			normal.pop_back();
		auto [it, fresh] = seen.emplace(normal, what);
		if (!fresh)
			throw UsageError(what + " and " + it->second + " are the same file (" + path + "): give each its own name");
	};
	for (const Endpoint &endpoint : names.destinations)
		if (IsFileKind(endpoint.kind))
			claim(endpoint.target, std::string("--dest ") + EndpointKindName(endpoint.kind));
	if (!names.manifest.empty())
		claim(names.manifest, "the manifest");
	return names;
}

// RemoveStale removes the temporaries killed runs left of this run's final names.
void
RemoveStale(const RunNames &names) {
	for (const Endpoint &endpoint : names.destinations)
		if (IsFileKind(endpoint.kind))
			RemoveStaleTemporaries(FileTarget(endpoint));
	if (!names.manifest.empty())
		RemoveStaleTemporaries(names.manifest);
}

TableSelection
Selection(const Options &options) {
	TableSelection selection;
	selection.tables = options.tables;
	selection.exclude = options.exclude;
	if (!options.schemas_file.empty()) {
		selection.use_entities = true;
		selection.entities = ReadEntitiesFile(options.schemas_file);
		selection.entities_origin = "--schemas " + options.schemas_file;
	}
	return selection;
}

std::unique_ptr<ProgressListener>
Progress(const Options &options, std::FILE *err) {
	if (options.quiet)
		return nullptr;
	bool live = options.progress == ProgressMode::On ||
				(options.progress == ProgressMode::Auto && ::isatty(::fileno(err)) == 1);
	return MakeProgressDisplay(err, live);
}

// Rotate keeps the --keep newest dated names of each file destination and of the manifest; failures to remove
// one are warnings (the backup itself succeeded).
void
Rotate(const Options &options, const RunNames &names, std::FILE *err) {
	std::vector<std::string> errors;
	for (const Endpoint &endpoint : options.destinations)
		if (IsFileKind(endpoint.kind))
			RotateDated(endpoint.target, options.keep, &errors);
	if (!names.undated_manifest.empty())
		RotateDated(names.undated_manifest, options.keep, &errors);
	for (const std::string &error : errors)
		std::fprintf(err, "mosta-copy: warning: --keep: %s\n", MaskCredentialsInText(error).c_str());
}

// ManifestFiles returns what every destination wrote (after Commit), a MongoDB copy with its own checksums.
std::vector<ManifestFile>
ManifestFiles(const std::vector<Destination *> &destinations, const DatabaseSchema &schema) {
	std::vector<ManifestFile> files;
	for (const Destination *destination : destinations) {
		std::vector<FileTable> tables;
		if (const std::vector<MongoStoredTable> *stored = MongoStoredTables(*destination))
			for (const MongoStoredTable &table : *stored)
				for (const TableDef &def : schema.tables)
					if (def.QualifiedName() == table.table)
						tables.push_back({def.schema, def.name, table.rows, table.checksum, table.inexact_rows,
										  table.inexact_columns});
		for (const WrittenFile &file : destination->Files())
			files.push_back(ManifestFile{file, {}, tables});
	}
	return files;
}

} // namespace

int
RunCopyCommand(const Options &options, std::FILE *err, const std::atomic<bool> *stop, const EndpointFactory &factory,
			   std::chrono::system_clock::time_point now) {
	try {
		const RunNames names = PlanNames(options, now);
		RemoveStale(names);
		const TableSelection selection = Selection(options);

		const DestinationOptions &destination_options = options.destination_options;
		const int jobs = destination_options.jobs;
		std::unique_ptr<Source> source =
			factory.source ? factory.source(*options.source, jobs) : OpenSource(*options.source, jobs);
		SourceGuard guard{nullptr};
		source->Open();
		guard.source = source.get();
		if (stop != nullptr && stop->load())
			throw Stopped("stopped by a signal"); // while the source waited for its locks: nothing begun yet
		const DatabaseSchema schema = SelectTables(source->Schema(), selection);

		std::vector<std::unique_ptr<Destination>> destinations;
		std::vector<Destination *> pointers;
		for (const Endpoint &endpoint : names.destinations) {
			destinations.push_back(factory.destination ? factory.destination(endpoint, destination_options)
													   : OpenDestination(endpoint, destination_options));
			pointers.push_back(destinations.back().get());
		}

		std::unique_ptr<ProgressListener> progress = Progress(options, err);
		CopySettings settings;
		settings.batch_size = destination_options.batch_size;
		settings.jobs = jobs;
		settings.writer_threads = options.writer_threads;
		settings.stop = stop;
		settings.progress = progress.get();
		CopyResult result = CopyDatabase(*source, schema, pointers, settings);
		progress.reset();

		if (!names.manifest.empty()) {
			Manifest manifest;
			manifest.tool = std::string("mosta-copy ") + kMostaVersion;
			manifest.created =
				UtcTimeText(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
			manifest.snapshot = source->Snapshot();
			manifest.schema = schema;
			manifest.tables = result.tables;
			manifest.files = ManifestFiles(pointers, schema);
			manifest.elapsed_ms = result.elapsed.count();
			WriteManifest(names.manifest, manifest);
		}
		if (options.keep > 0)
			Rotate(options, names, err);
		std::string summary = Summary(result, pointers.size(), source->Snapshot(), names.manifest);
		std::fprintf(err, "%s\n", MaskCredentialsInText(summary).c_str());
		std::fflush(err);
		return 0;
	} catch (const UsageError &e) {
		return Fail(err, e.what(), 2);
	} catch (const std::exception &e) {
		return Fail(err, e.what(), 1);
	}
}

} // namespace mosta::copy
