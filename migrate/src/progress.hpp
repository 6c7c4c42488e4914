/*
 * progress.hpp
 *     Progress of a long command on stderr (docs/migration.md): per collection the documents read and the rate,
 *     and the run's totals, at most every kProgressInterval; rewritten in place (\r) when stderr is a terminal,
 *     one line per report otherwise (a log keeps them). Nothing on stdout: that is for the summary.
 */
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "apply.hpp"

namespace mosta::migrate {

inline constexpr std::chrono::seconds kProgressInterval{2};

class Progress {
  public:
	// Progress writes to out (a terminal gets \r updates).
	explicit Progress(std::FILE *out = stderr);

	// Start begins a collection (resumed from documents already applied).
	void Start(const std::string &collection, std::int64_t resumed);
	// Add counts a committed batch of documents; reports when kProgressInterval has passed.
	void Add(std::int64_t documents, const ApplyCounts &counts);
	// Finish ends the collection with a last report (a newline on a terminal).
	void Finish();

  private:
	void Report(bool final);

	std::FILE *out_;
	bool tty_;
	std::string collection_;
	std::int64_t resumed_ = 0, documents_ = 0, total_ = 0;
	ApplyCounts counts_;
	std::chrono::steady_clock::time_point started_, run_started_, last_;
};

} // namespace mosta::migrate
