/*
 * progress.hpp
 *     What the copy tells about its advance (ProgressListener, called from the --jobs threads), and the display
 *     of it on stderr (MakeProgressDisplay): on a terminal a live line per table being copied (rows and bytes so
 *     far, rate, ETA from the table's estimated rows), redrawn at most 4 times a second; otherwise plain lines,
 *     one per table when it ends and one every 10 s for a table still running.
 */
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "model/schema.hpp"

namespace mosta::copy {

class ProgressListener {
  public:
	virtual ~ProgressListener() = default;
	// TableStarted, TableAdvanced (after each batch: the table's totals so far) and TableFinished are called from
	// the thread copying the table; implementations are thread-safe.
	virtual void TableStarted(const TableDef &table) = 0;
	virtual void TableAdvanced(const TableDef &table, std::uint64_t rows, std::uint64_t bytes) = 0;
	virtual void TableFinished(const TableDef &table, std::uint64_t rows, std::uint64_t bytes) = 0;
};

// MakeProgressDisplay returns the display writing to out: live (a terminal) or plain lines.
std::unique_ptr<ProgressListener> MakeProgressDisplay(std::FILE *out, bool live);

// FormatBytes returns a size for people: "512 B", "3.4 kB", "12.0 MB", "1.2 GB".
std::string FormatBytes(std::uint64_t bytes);

} // namespace mosta::copy
