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
	explicit Report(std::FILE *to) : out(to) {}
	std::FILE *out;
	std::mutex mutex;
	bool all_ok = true;
	int checked = 0;

	void
	Line(bool ok, const std::string &text) {
		std::lock_guard lock(mutex);
		if (!ok)
			all_ok = false;
		++checked;
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

// CompareTables reads every table of the manifest from source and reports each against the manifest; label
// names the source in the lines; live: a database that may have changed since the backup.
void
CompareTables(Source &source, const Manifest &manifest, const std::string &label, bool live, int jobs,
			  const std::atomic<bool> *stop, Report &report) {
	RunParallel(manifest.tables.size(), jobs, [&](std::size_t i) {
		const TableResult &expected = manifest.tables[i];
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
			report.Line(true, name + ": " + std::to_string(actual.rows) + " rows, checksum " + actual.checksum);
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
VerifyOne(std::unique_ptr<Source> source, const Manifest &manifest, const std::string &label, bool live, int jobs,
		  const std::atomic<bool> *stop, Report &report) {
	try {
		source->Open();
	} catch (const std::exception &e) {
		report.Failure(label + ": cannot open: " + e.what());
		return;
	}
	try {
		CompareTables(*source, manifest, label, live, jobs, stop, report);
	} catch (...) {
		source->Close();
		throw;
	}
	source->Close();
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
	auto make = [&](const Endpoint &endpoint) {
		return open ? open(endpoint, manifest.schema) : OpenSource(endpoint, jobs, &manifest.schema);
	};
	Report report(out);
	try {
		for (const WrittenFile &file : manifest.files) {
			std::optional<EndpointKind> kind = KindOf(file.kind);
			if (!kind) {
				report.Failure(file.path + ": unknown kind \"" + file.kind + "\"");
				continue;
			}
			if (*kind == EndpointKind::Postgres) {
				std::fprintf(out, "skipped %s: a database (verify it with --against URI)\n",
							 MaskCredentials(file.path).c_str());
				continue;
			}
			if (!file.crc32c.empty()) {
				std::uint64_t bytes = 0;
				std::string crc;
				try {
					crc = FileCrc32c(file.path, &bytes);
				} catch (const std::exception &e) {
					report.Failure(file.path + ": " + e.what());
					continue;
				}
				if (bytes != file.bytes || crc != file.crc32c) {
					report.Line(false, file.path + ": " + std::to_string(bytes) + " bytes, CRC-32C " + crc +
										   ", the manifest has " + std::to_string(file.bytes) + " bytes, CRC-32C " +
										   file.crc32c);
					continue; // a damaged file is not read further: its tables would only repeat the news
				}
				report.Line(true, file.path + ": " + std::to_string(bytes) + " bytes, CRC-32C " + crc);
			}
			Endpoint endpoint{*kind, file.path};
			std::unique_ptr<Source> source;
			try {
				source = make(endpoint);
			} catch (const std::exception &e) {
				report.Failure(file.path + ": " + e.what());
				continue;
			}
			VerifyOne(std::move(source), manifest, file.path, false, jobs, stop, report);
		}
		if (!options.against.empty()) {
			Endpoint endpoint{EndpointKind::Postgres, options.against};
			std::unique_ptr<Source> source;
			try {
				source = make(endpoint);
			} catch (const std::exception &e) {
				report.Failure(MaskCredentials(options.against) + ": " + e.what());
			}
			if (source)
				VerifyOne(std::move(source), manifest, MaskCredentials(options.against), true, jobs, stop, report);
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
