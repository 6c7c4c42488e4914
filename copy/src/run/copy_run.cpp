/*
 * copy_run.cpp
 *     The copy pipeline (copy_run.hpp): table jobs, per-destination writer threads, Begin/Finish/Commit/Abort.
 */
#include "run/copy_run.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "model/value_text.hpp"
#include "run/bounded_queue.hpp"
#include "run/table_checksum.hpp"

namespace mosta::copy {

namespace {

using BatchPtr = std::shared_ptr<const RowBatch>;

// kLaneDepth is how many batches wait for a destination: enough for the reader to stay one batch ahead.
constexpr std::size_t kLaneDepth = 2;

bool
Requested(const std::atomic<bool> *flag) noexcept {
	return flag != nullptr && flag->load(std::memory_order_relaxed);
}

// Lane writes one table's batches to one destination from its own thread; Close(rows) is called from that thread
// too, after the last batch, so each TableWriter is used by one thread only.
class Lane {
  public:
	explicit Lane(TableWriter &writer) : writer_(writer), queue_(kLaneDepth), thread_([this] { Run(); }) {}
	~Lane() {
		queue_.Cancel();
		if (thread_.joinable())
			thread_.join();
	}
	Lane(const Lane &) = delete;
	Lane &operator=(const Lane &) = delete;

	// Push hands batch to the writer thread; false when the lane failed (Finish then throws its error).
	bool
	Push(BatchPtr batch) {
		return queue_.Push(std::move(batch));
	}
	// Finish waits until every batch is written and the writer closed; rethrows the writer's error.
	void
	Finish(std::uint64_t rows) {
		rows_ = rows;
		queue_.Close();
		thread_.join();
		if (error_)
			std::rethrow_exception(error_);
	}

  private:
	void
	Run() noexcept {
		try {
			BatchPtr batch;
			while (queue_.Pop(batch)) {
				writer_.Write(*batch);
				batch.reset();
			}
			if (!queue_.Cancelled())
				writer_.Close(rows_);
		} catch (...) {
			error_ = std::current_exception();
			queue_.Cancel();
		}
	}

	TableWriter &writer_;
	BoundedQueue<BatchPtr> queue_;
	std::uint64_t rows_ = 0;
	std::exception_ptr error_;
	std::thread thread_; // last: starts once every member above exists
};

// BatchPool recycles the source's batches of one table: a batch comes back when the last destination is done
// with it (its shared_ptr's deleter), so a table's copy allocates a few batches, not one per --batch-size rows.
// The pool outlives every batch it gave (it is declared before the lanes that hold them).
class BatchPool {
  public:
	BatchPool(std::size_t columns, ValueForm form) : columns_(columns), form_(form) {}

	std::shared_ptr<RowBatch>
	Get() {
		std::unique_ptr<RowBatch> batch;
		{
			std::lock_guard lock(mutex_);
			if (!free_.empty()) {
				batch = std::move(free_.back());
				free_.pop_back();
			}
		}
		if (!batch)
			batch = std::make_unique<RowBatch>(columns_, form_);
		batch->Clear();
		return std::shared_ptr<RowBatch>(batch.release(), [this](RowBatch *done) {
			std::unique_ptr<RowBatch> owned(done);
			std::lock_guard lock(mutex_);
			free_.push_back(std::move(owned));
		});
	}

  private:
	std::size_t columns_;
	ValueForm form_;
	std::mutex mutex_;
	std::vector<std::unique_ptr<RowBatch>> free_;
};

// Converted returns batch in form, converting it once (the caller keeps the result for every destination).
BatchPtr
Converted(const BatchPtr &batch, const TableDef &table, ValueForm form) {
	if (batch->Form() == form)
		return batch;
	return std::make_shared<const RowBatch>(ConvertBatch(*batch, table, form));
}

// CopyTable copies one table to every destination; returns early (no error) when abort becomes true (another
// table failed).
TableResult
CopyTable(Source &source, const TableDef &table, const std::vector<Destination *> &destinations,
		  const CopySettings &settings, const std::atomic<bool> &abort) {
	TableResult result{table.schema, table.name, 0, 0, ""};
	const std::size_t columns = table.CopiedColumns().size();
	std::unique_ptr<TableReader> reader = source.OpenTable(table);
	BatchPool pool(columns, reader->Form());
	std::vector<std::unique_ptr<TableWriter>> writers;
	for (Destination *destination : destinations)
		writers.push_back(destination->OpenTable(table));
	bool need_pg_text = false;
	for (Destination *destination : destinations)
		need_pg_text = need_pg_text || destination->Form() == ValueForm::PgText;
	// with writer threads, reading, converting and hashing the next batch overlap the writes of this one
	std::vector<std::unique_ptr<Lane>> lanes;
	if (settings.writer_threads)
		for (auto &writer : writers)
			lanes.push_back(std::make_unique<Lane>(*writer));
	if (settings.progress)
		settings.progress->TableStarted(table);
	TableChecksum checksum(table);
	for (;;) {
		if (Requested(settings.stop))
			throw Stopped("stopped by a signal");
		if (abort.load(std::memory_order_relaxed))
			return result;
		std::shared_ptr<RowBatch> batch = pool.Get();
		bool more = reader->Next(*batch, settings.batch_size);
		if (batch->Rows() == 0) {
			if (!more)
				break;
			continue;
		}
		result.rows += batch->Rows();
		result.bytes += batch->Bytes();
		BatchPtr source_batch = std::move(batch);
		BatchPtr canonical = Converted(source_batch, table, ValueForm::Canonical);
		BatchPtr pg_text = need_pg_text ? Converted(source_batch, table, ValueForm::PgText) : nullptr;
		checksum.Add(*canonical);
		for (std::size_t d = 0; d < destinations.size(); ++d) {
			const BatchPtr &form = destinations[d]->Form() == ValueForm::Canonical ? canonical : pg_text;
			if (lanes.empty()) {
				writers[d]->Write(*form);
			} else if (!lanes[d]->Push(form)) {
				lanes[d]->Finish(result.rows); // rethrows the writer's error
				throw CopyError("internal error: a writer stopped without an error");
			}
		}
		if (settings.progress)
			settings.progress->TableAdvanced(table, result.rows, result.bytes);
		if (!more)
			break;
	}
	if (lanes.empty())
		for (auto &writer : writers)
			writer->Close(result.rows);
	else
		for (auto &lane : lanes)
			lane->Finish(result.rows);
	result.checksum = checksum.Text();
	if (settings.progress)
		settings.progress->TableFinished(table, result.rows, result.bytes);
	return result;
}

} // namespace

void
RunParallel(std::size_t count, int jobs, const std::function<void(std::size_t)> &work,
			const std::function<void()> &cancel) {
	std::atomic<std::size_t> next{0};
	std::atomic<bool> failed{false};
	std::exception_ptr error;
	std::mutex mutex;
	auto loop = [&] {
		for (;;) {
			std::size_t i = next.fetch_add(1);
			if (i >= count || failed.load())
				return;
			try {
				work(i);
			} catch (...) {
				std::lock_guard lock(mutex);
				if (!error) {
					error = std::current_exception();
					failed = true;
					if (cancel)
						cancel();
				}
			}
		}
	};
	std::size_t threads = std::min<std::size_t>(count, static_cast<std::size_t>(std::max(jobs, 1)));
	if (threads <= 1) {
		loop();
	} else {
		std::vector<std::thread> pool;
		for (std::size_t t = 0; t < threads; ++t)
			pool.emplace_back(loop);
		for (std::thread &thread : pool)
			thread.join();
	}
	if (error)
		std::rethrow_exception(error);
}

CopyResult
CopyDatabase(Source &source, const DatabaseSchema &schema, const std::vector<Destination *> &destinations,
			 const CopySettings &settings) {
	const auto start = std::chrono::steady_clock::now();
	CopyResult result;
	result.tables.resize(schema.tables.size());
	// largest tables first when several run at once, so that the last one to end is not a big one started late
	std::vector<std::size_t> order(schema.tables.size());
	for (std::size_t i = 0; i < order.size(); ++i)
		order[i] = i;
	if (settings.jobs > 1)
		std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
			return schema.tables[a].estimated_rows > schema.tables[b].estimated_rows;
		});
	std::atomic<bool> abort{false};
	try {
		for (Destination *destination : destinations)
			destination->Begin(schema, source.Snapshot());
		RunParallel(
			order.size(), settings.jobs,
			[&](std::size_t i) {
				const TableDef &table = schema.tables[order[i]];
				result.tables[order[i]] = CopyTable(source, table, destinations, settings, abort);
			},
			[&] { abort = true; });
		if (Requested(settings.stop))
			throw Stopped("stopped by a signal");
		for (Destination *destination : destinations)
			destination->Finish();
		if (Requested(settings.stop))
			throw Stopped("stopped by a signal");
		for (Destination *destination : destinations)
			destination->Commit();
	} catch (...) {
		for (Destination *destination : destinations)
			destination->Abort();
		throw;
	}
	for (Destination *destination : destinations)
		for (WrittenFile &file : destination->Files())
			result.files.push_back(std::move(file));
	for (const TableResult &table : result.tables) {
		result.rows += table.rows;
		result.bytes += table.bytes;
	}
	result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
	return result;
}

TableResult
ReadTable(Source &source, const TableDef &table, std::size_t batch_size, const std::atomic<bool> *stop) {
	TableResult result{table.schema, table.name, 0, 0, ""};
	std::unique_ptr<TableReader> reader = source.OpenTable(table);
	TableChecksum checksum(table);
	RowBatch batch(table.CopiedColumns().size(), reader->Form());
	for (;;) {
		if (Requested(stop))
			throw Stopped("stopped by a signal");
		bool more = reader->Next(batch, batch_size);
		result.rows += batch.Rows();
		result.bytes += batch.Bytes();
		if (batch.Rows() > 0) {
			if (batch.Form() == ValueForm::Canonical)
				checksum.Add(batch);
			else
				checksum.Add(ConvertBatch(batch, table, ValueForm::Canonical));
		}
		if (!more)
			break;
	}
	result.checksum = checksum.Text();
	return result;
}

} // namespace mosta::copy
