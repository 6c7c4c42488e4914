/*
 * verify.cpp
 *     mosta-copy verify (verify.hpp).
 */
#include "run/verify.hpp"

#include <mutex>

#include "io/open.hpp"
#include "io/staged_path.hpp"
#include "mosta/common/conninfo.hpp"
#include "run/copy_run.hpp"
#include "run/manifest.hpp"

namespace mosta::copy {

namespace {

std::optional<EndpointKind>
KindOf(const std::string &kind) {
	for (EndpointKind candidate : {EndpointKind::Postgres, EndpointKind::Sqlite, EndpointKind::SqlDump,
								   EndpointKind::Json, EndpointKind::Mongodb})
		if (kind == EndpointKindName(candidate))
			return candidate;
	return std::nullopt;
}

// Report collects the lines and whether everything agreed.
struct Report {
	Report(std::FILE *to, bool quiet_) : out(to), quiet(quiet_) {}
	std::FILE *out;
	bool quiet; // only the mismatches and failures
	std::mutex mutex;
	bool all_ok = true;
	int checked = 0;

	void
	Line(bool ok, const std::string &text) {
		std::lock_guard lock(mutex);
		if (!ok)
			all_ok = false;
		++checked;
		if (ok && quiet)
			return;
		std::fprintf(out, "%s %s\n", ok ? "ok" : "MISMATCH", MaskCredentialsInText(text).c_str());
		std::fflush(out);
	}
	void
	Failure(const std::string &text) {
		std::lock_guard lock(mutex);
		all_ok = false;
		std::fprintf(out, "FAILED %s\n", MaskCredentialsInText(text).c_str());
		std::fflush(out);
	}
};

// Expected returns what a file (or the live database: file null) must hold: the file's own checksums when the
// manifest has them (a MongoDB copy), else the source's.
std::vector<FileTable>
Expected(const Manifest &manifest, const ManifestFile *file) {
	if (file != nullptr && !file->tables.empty())
		return file->tables;
	std::vector<FileTable> expected;
	for (const TableResult &table : manifest.tables)
		expected.push_back({table.schema, table.name, table.rows, table.checksum, 0, {}});
	return expected;
}

// CompareTables reads every table expected from source and reports each; label names the source in the lines;
// live: a database that may have changed since the backup.
void
CompareTables(Source &source, const std::vector<FileTable> &tables, const std::string &label, bool live, int jobs,
			  const std::atomic<bool> *stop, Report &report) {
	RunParallel(tables.size(), jobs, [&](std::size_t i) {
		const FileTable &expected = tables[i];
		const std::string name = label + " " + expected.schema + "." + expected.name;
		const TableDef *table = source.Schema().FindTable(expected.schema, expected.name);
		if (table == nullptr) {
			report.Line(false, name + ": missing (the manifest has " + std::to_string(expected.rows) + " rows)");
			return;
		}
		TableResult actual;
		try {
			actual = ReadTable(source, *table, 10'000, stop);
		} catch (const Stopped &) {
			throw;
		} catch (const std::exception &e) {
			report.Failure(name + ": cannot read: " + e.what());
			return;
		}
		if (actual.rows == expected.rows && actual.checksum == expected.checksum) {
			std::string text = name + ": " + std::to_string(actual.rows) + " rows, checksum " + actual.checksum;
			if (expected.inexact_rows > 0) {
				text += " (as written: " + std::to_string(expected.inexact_rows) + " rows differ from the source in";
				for (const std::string &column : expected.inexact_columns)
					text += " " + column;
				text += ", which the MongoDB mapping does not keep exactly)";
			}
			report.Line(true, text);
			return;
		}
		std::string text = name + (live ? ": differs since the backup: " : ": ");
		if (actual.rows != expected.rows)
			text += std::to_string(actual.rows) + " rows, the manifest has " + std::to_string(expected.rows) + "; ";
		text += "checksum " + actual.checksum + ", the manifest has " + expected.checksum;
		report.Line(false, text);
	});
}

// VerifyOne opens source (a file of the manifest, or the live database) and compares its tables.
void
VerifyOne(std::unique_ptr<Source> source, const std::vector<FileTable> &tables, const std::string &label, bool live,
		  int jobs, const std::atomic<bool> *stop, Report &report) {
	try {
		source->Open();
	} catch (const std::exception &e) {
		report.Failure(label + ": cannot open: " + e.what());
		return;
	}
	try {
		CompareTables(*source, tables, label, live, jobs, stop, report);
	} catch (...) {
		source->Close();
		throw;
	}
	source->Close();
}

// CheckCrc reports file's size and CRC-32C against the manifest's; false when they differ or it cannot be read.
bool
CheckCrc(const WrittenFile &file, Report &report) {
	std::uint64_t bytes = 0;
	std::string crc;
	try {
		crc = FileCrc32c(file.path, &bytes);
	} catch (const std::exception &e) {
		report.Failure(file.path + ": " + e.what());
		return false;
	}
	bool ok = bytes == file.bytes && crc == file.crc32c;
	std::string text = file.path + ": " + std::to_string(bytes) + " bytes, CRC-32C " + crc;
	if (!ok)
		text += ", the manifest has " + std::to_string(file.bytes) + " bytes, CRC-32C " + file.crc32c;
	report.Line(ok, text);
	return ok;
}

using SourceMaker = std::function<std::unique_ptr<Source>(const Endpoint &)>;

// VerifyFile checks one file of the manifest: size and CRC-32C, then its tables read back.
void
VerifyFile(const ManifestFile &file, const Manifest &manifest, const SourceMaker &make, int jobs,
		   const std::atomic<bool> *stop, std::FILE *out, Report &report) {
	std::optional<EndpointKind> kind = KindOf(file.kind);
	if (!kind) {
		report.Failure(file.path + ": unknown kind \"" + file.kind + "\"");
		return;
	}
	if (*kind == EndpointKind::Postgres) {
		std::fprintf(out, "skipped %s: a database (verify it with --against URI)\n",
					 MaskCredentials(file.path).c_str());
		return;
	}
	// a damaged file is not read further: its tables would only repeat the news
	if (!file.crc32c.empty() && !CheckCrc(file, report))
		return;
	bool parts_ok = true;
	for (const WrittenFile &part : file.parts)
		parts_ok = CheckCrc(part, report) && parts_ok;
	if (!parts_ok)
		return;
	std::unique_ptr<Source> source;
	try {
		source = make(Endpoint{*kind, file.path});
	} catch (const std::exception &e) {
		report.Failure(file.path + ": " + e.what());
		return;
	}
	VerifyOne(std::move(source), Expected(manifest, &file), file.path, false, jobs, stop, report);
}

} // namespace

int
RunVerifyCommand(const Options &options, std::FILE *out, std::FILE *err, const std::atomic<bool> *stop,
				 const std::function<std::unique_ptr<Source>(const Endpoint &, const DatabaseSchema &)> &open) {
	Manifest manifest;
	try {
		manifest = ReadManifest(options.verify_manifest);
	} catch (const std::exception &e) {
		std::fprintf(err, "mosta-copy: FAILED: %s\n", MaskCredentialsInText(e.what()).c_str());
		return 2;
	}
	const int jobs = options.destination_options.jobs;
	SourceMaker make = [&](const Endpoint &endpoint) {
		return open ? open(endpoint, manifest.schema) : OpenSource(endpoint, jobs, &manifest.schema);
	};
	Report report(out, options.quiet);
	try {
		for (const ManifestFile &file : manifest.files)
			VerifyFile(file, manifest, make, jobs, stop, out, report);
		if (!options.against.empty()) {
			Endpoint endpoint{EndpointKind::Postgres, options.against};
			std::unique_ptr<Source> source;
			try {
				source = make(endpoint);
			} catch (const std::exception &e) {
				report.Failure(MaskCredentials(options.against) + ": " + e.what());
			}
			if (source)
				VerifyOne(std::move(source), Expected(manifest, nullptr), MaskCredentials(options.against), true, jobs,
						  stop, report);
		}
	} catch (const std::exception &e) {
		std::fprintf(err, "mosta-copy: FAILED: %s\n", MaskCredentialsInText(e.what()).c_str());
		return 1;
	}
	if (report.all_ok)
		std::fprintf(err, "mosta-copy: verify ok: %d checks against %s\n", report.checked,
					 options.verify_manifest.c_str());
	else
		std::fprintf(err, "mosta-copy: verify FAILED: %s does not match (see the lines above)\n",
					 options.verify_manifest.c_str());
	return report.all_ok ? 0 : 1;
}

} // namespace mosta::copy
