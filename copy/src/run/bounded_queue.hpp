/*
 * bounded_queue.hpp
 *     BoundedQueue: a small blocking queue between the thread reading a table and a destination's writer thread,
 *     so that the destinations write while the next batch is read, with memory bounded by capacity batches.
 *     Cancel wakes both sides for good (a failure anywhere): Push then drops what it is given, Pop returns false.
 */
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace mosta::copy {

template <typename T> class BoundedQueue {
  public:
	explicit BoundedQueue(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

	// Push waits for room and appends item; false when the queue was cancelled (item dropped).
	bool
	Push(T item) {
		std::unique_lock lock(mutex_);
		not_full_.wait(lock, [&] { return cancelled_ || items_.size() < capacity_; });
		if (cancelled_)
			return false;
		items_.push_back(std::move(item));
		not_empty_.notify_one();
		return true;
	}

	// Close says no more items come: Pop returns false once the queue is empty.
	void
	Close() {
		std::lock_guard lock(mutex_);
		closed_ = true;
		not_empty_.notify_all();
	}

	// Cancel drops every item and wakes everyone; Push and Pop return false from now on.
	void
	Cancel() {
		std::lock_guard lock(mutex_);
		cancelled_ = true;
		items_.clear();
		not_empty_.notify_all();
		not_full_.notify_all();
	}

	// Cancelled says whether Cancel was called.
	bool
	Cancelled() {
		std::lock_guard lock(mutex_);
		return cancelled_;
	}

	// Pop waits for an item; false when the queue is closed and empty, or cancelled.
	bool
	Pop(T &item) {
		std::unique_lock lock(mutex_);
		not_empty_.wait(lock, [&] { return cancelled_ || closed_ || !items_.empty(); });
		if (cancelled_ || items_.empty())
			return false;
		item = std::move(items_.front());
		items_.pop_front();
		not_full_.notify_one();
		return true;
	}

  private:
	std::mutex mutex_;
	std::condition_variable not_empty_;
	std::condition_variable not_full_;
	std::deque<T> items_;
	std::size_t capacity_;
	bool closed_ = false;
	bool cancelled_ = false;
};

} // namespace mosta::copy
