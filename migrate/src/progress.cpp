/*
 * progress.cpp
 *     Progress (progress.hpp).
 */
#include "progress.hpp"

#include <unistd.h>

namespace mosta::migrate {

Progress::Progress(std::FILE *out)
	: out_(out), tty_(::isatty(::fileno(out)) == 1), run_started_(std::chrono::steady_clock::now()) {}

void
Progress::Start(const std::string &collection, std::int64_t resumed) {
	collection_ = collection;
	resumed_ = resumed;
	documents_ = 0;
	counts_ = ApplyCounts{};
	started_ = last_ = std::chrono::steady_clock::now();
}

void
Progress::Add(std::int64_t documents, const ApplyCounts &counts) {
	documents_ += documents;
	total_ += documents;
	counts_ += counts;
	if (std::chrono::steady_clock::now() - last_ >= kProgressInterval)
		Report(false);
}

void
Progress::Finish() {
	Report(true);
}

void
Progress::Report(bool final) {
	auto now = std::chrono::steady_clock::now();
	last_ = now;
	double seconds = std::chrono::duration<double>(now - started_).count();
	double run_seconds = std::chrono::duration<double>(now - run_started_).count();
	double rate = seconds > 0 ? static_cast<double>(documents_) / seconds : 0;
	double run_rate = run_seconds > 0 ? static_cast<double>(total_) / run_seconds : 0;
	std::fprintf(out_,
				 "%s%s: %lld documents (%lld before this run) %.0f docs/s; applied %lld, unchanged %lld, missing "
				 "parent %lld, rejected %lld | run: %lld documents %.0f docs/s%s%s",
				 tty_ ? "\r" : "", collection_.c_str(), static_cast<long long>(documents_ + resumed_),
				 static_cast<long long>(resumed_), rate, static_cast<long long>(counts_.applied),
				 static_cast<long long>(counts_.unchanged), static_cast<long long>(counts_.missing_parent),
				 static_cast<long long>(counts_.rejected), static_cast<long long>(total_), run_rate,
				 tty_ ? "\033[K" : "", !tty_ || final ? "\n" : "");
	std::fflush(out_);
}

} // namespace mosta::migrate
