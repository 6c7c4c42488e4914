/*
 * copy_command.cpp
 *     One copy run (copy_command.hpp).
 */
#include "run/copy_command.hpp"

#include <unistd.h>

#include <filesystem>

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

} // namespace

int
RunCopyCommand(const Options &options, std::FILE *err, const std::atomic<bool> *stop, const EndpointFactory &factory,
			   std::chrono::system_clock::time_point now) {
	auto fail = [&](const std::string &reason, int status) {
		std::fprintf(err, "mosta-copy: FAILED: %s\n", MaskCredentialsInText(reason).c_str());
		std::fflush(err);
		return status;
	};
	try {
		const std::string stamp = RunStamp(now);
		std::vector<Endpoint> finals = options.destinations; // the names written this run
		for (Endpoint &endpoint : finals)
			if (options.keep > 0 && IsFileKind(endpoint.kind))
				endpoint.target = DatedPath(endpoint.target, stamp);
		std::string undated_manifest =
			!options.manifest.empty() ? options.manifest : DefaultManifestPath(options.destinations);
		std::string manifest_path = undated_manifest;
		if (options.keep > 0 && !manifest_path.empty())
			manifest_path = DatedPath(manifest_path, stamp);

		for (const Endpoint &endpoint : finals)
			if (IsFileKind(endpoint.kind))
				RemoveStaleTemporaries(FileTarget(endpoint));
		if (!manifest_path.empty())
			RemoveStaleTemporaries(manifest_path);

		TableSelection selection;
		selection.tables = options.tables;
		selection.exclude = options.exclude;
		if (!options.schemas_file.empty()) {
			selection.use_entities = true;
			selection.entities = ReadEntitiesFile(options.schemas_file);
			selection.entities_origin = "--schemas " + options.schemas_file;
		}

		DestinationOptions destination_options = options.destination_options;
		const int jobs = destination_options.jobs;
		std::unique_ptr<Source> source =
			factory.source ? factory.source(*options.source, jobs) : OpenSource(*options.source, jobs);
		SourceGuard guard{nullptr};
		source->Open();
		guard.source = source.get();
		DatabaseSchema schema = SelectTables(source->Schema(), selection);

		std::vector<std::unique_ptr<Destination>> destinations;
		std::vector<Destination *> pointers;
		for (const Endpoint &endpoint : finals) {
			destinations.push_back(factory.destination ? factory.destination(endpoint, destination_options)
													   : OpenDestination(endpoint, destination_options));
			pointers.push_back(destinations.back().get());
		}

		std::unique_ptr<ProgressListener> progress;
		if (!options.quiet) {
			bool live = options.progress == ProgressMode::On ||
						(options.progress == ProgressMode::Auto && ::isatty(::fileno(err)) == 1);
			progress = MakeProgressDisplay(err, live);
		}
		CopySettings settings;
		settings.batch_size = destination_options.batch_size;
		settings.jobs = jobs;
		settings.writer_threads = options.writer_threads;
		settings.stop = stop;
		settings.progress = progress.get();
		CopyResult result = CopyDatabase(*source, schema, pointers, settings);
		progress.reset();

		if (!manifest_path.empty()) {
			Manifest manifest;
			manifest.tool = std::string("mosta-copy ") + kMostaVersion;
			manifest.created =
				UtcTimeText(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
			manifest.snapshot = source->Snapshot();
			manifest.schema = schema;
			manifest.tables = result.tables;
			manifest.files = result.files;
			manifest.elapsed_ms = result.elapsed.count();
			WriteManifest(manifest_path, manifest);
		}
		if (options.keep > 0) {
			std::vector<std::string> errors;
			for (const Endpoint &endpoint : options.destinations)
				if (IsFileKind(endpoint.kind))
					RotateDated(endpoint.target, options.keep, &errors);
			if (!undated_manifest.empty())
				RotateDated(undated_manifest, options.keep, &errors);
			for (const std::string &error : errors)
				std::fprintf(err, "mosta-copy: warning: --keep: %s\n", error.c_str());
		}
		std::fprintf(
			err, "%s\n",
			MaskCredentialsInText(Summary(result, pointers.size(), source->Snapshot(), manifest_path)).c_str());
		std::fflush(err);
		return 0;
	} catch (const UsageError &e) {
		return fail(e.what(), 2);
	} catch (const std::exception &e) {
		return fail(e.what(), 1);
	}
}

} // namespace mosta::copy
