/*
 * copy_run.hpp
 *     The copy pipeline: one source, in one snapshot, to every destination at once.
 *
 *       Begin on every destination (the selected schema, the snapshot)
 *       --jobs threads take the tables, largest first; for each table: the source's TableReader gives batches of
 *         --batch-size rows; each batch is converted once per value form a destination needs (ConvertBatch) and
 *         once to Canonical for the checksum (TableChecksum, when a manifest is written); the same const batch goes to
 * every destination of that form: to its TableWriter through a writer thread and a queue of 2 batches (the destinations
 * write while the next batch is read), or directly (writer_threads off); then every writer is closed Finish on every
 * destination, then Commit on every destination Any failure, or *stop becoming true (SIGINT, SIGTERM), cancels every
 * thread and Aborts every destination, then the error is rethrown (Stopped for a stop): nothing is committed unless
 * everything succeeded. The manifest (run/manifest) is written by the caller after Commit.
 */
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/destination.hpp"
#include "io/source.hpp"
#include "run/progress.hpp"

namespace mosta::copy {

// Stopped: the copy was stopped by a signal.
class Stopped : public CopyError {
  public:
	using CopyError::CopyError;
};

struct CopySettings {
	std::size_t batch_size = 1000;
	int jobs = 1;
	bool writer_threads = true;
	// checksums: compute each table's canonical checksum (the manifest needs it); off, a batch is converted only
	// to the forms the destinations take (a restore without --manifest: PgText straight through)
	bool checksums = true;
	const std::atomic<bool> *stop = nullptr; // checked between batches
	ProgressListener *progress = nullptr;	 // may be null
};

// What one table's copy counted.
struct TableResult {
	std::string schema;
	std::string name;
	std::uint64_t rows = 0;
	std::uint64_t bytes = 0; // of the source's batches
	std::string checksum;	 // the canonical checksum (64 hex digits); "" when CopySettings::checksums is off
};

struct CopyResult {
	std::vector<TableResult> tables; // in the schema's order
	std::vector<WrittenFile> files;	 // every destination's Files(), in destination order
	std::uint64_t rows = 0;
	std::uint64_t bytes = 0;
	std::chrono::milliseconds elapsed{0};
};

// CopyDatabase copies the tables of schema (a selection of source.Schema(), source opened) to destinations;
// throws (after Abort of every destination) on any failure.
CopyResult CopyDatabase(Source &source, const DatabaseSchema &schema, const std::vector<Destination *> &destinations,
						const CopySettings &settings);

// ReadTable reads table from source once and returns its row count, bytes and canonical checksum (verify);
// throws Stopped when *stop becomes true.
TableResult ReadTable(Source &source, const TableDef &table, std::size_t batch_size,
					  const std::atomic<bool> *stop = nullptr);

// RunParallel calls work(i) for i in [0, count) from up to jobs threads, in order of index; the first exception
// stops the others from starting new items and is rethrown after every thread has ended. cancel, when given, is
// called once at the first failure (to wake the threads blocked on a queue).
void RunParallel(std::size_t count, int jobs, const std::function<void(std::size_t)> &work,
				 const std::function<void()> &cancel = {});

} // namespace mosta::copy
