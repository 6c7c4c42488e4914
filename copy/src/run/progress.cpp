/*
 * progress.cpp
 *     The progress display (progress.hpp): live lines on a terminal, plain lines otherwise.
 */
#include "run/progress.hpp"

#include <chrono>
#include <cinttypes>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace mosta::copy {

namespace {

using Clock = std::chrono::steady_clock;

// kRedraw is the least time between two redraws of the live lines; kPlainEvery between two plain lines of one
// table still running.
constexpr auto kRedraw = std::chrono::milliseconds(250);
constexpr auto kPlainEvery = std::chrono::seconds(10);

struct Running {
	Clock::time_point start;
	Clock::time_point last_line;
	std::int64_t estimated_rows = -1;
	std::uint64_t rows = 0;
	std::uint64_t bytes = 0;
};

double
Seconds(Clock::duration duration) {
	return std::chrono::duration<double>(duration).count();
}

std::string
FormatDuration(double seconds) {
	char text[32];
	if (seconds < 60)
		std::snprintf(text, sizeof text, "%.1f s", seconds);
	else if (seconds < 3600)
		std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(seconds) / 60, static_cast<int>(seconds) % 60);
	else
		std::snprintf(text, sizeof text, "%dh%02dm", static_cast<int>(seconds) / 3600,
					  static_cast<int>(seconds) / 60 % 60);
	return text;
}

// Describe returns "NAME: ROWS rows[ of ~EST] (PCT%), BYTES, RATE rows/s[, ETA T]".
std::string
Describe(const std::string &name, const Running &table, Clock::time_point now) {
	double elapsed = Seconds(now - table.start);
	double rate = elapsed > 0 ? static_cast<double>(table.rows) / elapsed : 0;
	std::string text = name + ": " + std::to_string(table.rows) + " rows";
	if (table.estimated_rows > 0) {
		text += " of ~" + std::to_string(table.estimated_rows);
		double fraction = static_cast<double>(table.rows) / static_cast<double>(table.estimated_rows);
		char percent[16];
		std::snprintf(percent, sizeof percent, " (%d%%)", static_cast<int>(std::min(fraction, 1.0) * 100));
		text += percent;
	}
	char rest[96];
	std::snprintf(rest, sizeof rest, ", %s, %.0f rows/s", FormatBytes(table.bytes).c_str(), rate);
	text += rest;
	if (table.estimated_rows > 0 && rate > 0 && table.rows < static_cast<std::uint64_t>(table.estimated_rows))
		text += ", ETA " + FormatDuration(static_cast<double>(table.estimated_rows - table.rows) / rate);
	return text;
}

class Display final : public ProgressListener {
  public:
	Display(std::FILE *out, bool live) : out_(out), live_(live) {}
	~Display() override {
		std::lock_guard lock(mutex_);
		Erase();
	}

	void
	TableStarted(const TableDef &table) override {
		std::lock_guard lock(mutex_);
		Running &running = running_[table.QualifiedName()];
		running.start = running.last_line = Clock::now();
		running.estimated_rows = table.estimated_rows;
		if (live_)
			Redraw(true);
	}

	void
	TableAdvanced(const TableDef &table, std::uint64_t rows, std::uint64_t bytes) override {
		std::lock_guard lock(mutex_);
		std::string name = table.QualifiedName();
		Running &running = running_[name];
		running.rows = rows;
		running.bytes = bytes;
		Clock::time_point now = Clock::now();
		if (live_) {
			Redraw(false);
		} else if (now - running.last_line >= kPlainEvery) {
			running.last_line = now;
			std::fprintf(out_, "mosta-copy: %s\n", Describe(name, running, now).c_str());
			std::fflush(out_);
		}
	}

	void
	TableFinished(const TableDef &table, std::uint64_t rows, std::uint64_t bytes) override {
		std::lock_guard lock(mutex_);
		std::string name = table.QualifiedName();
		Running running = running_[name];
		running_.erase(name);
		Erase();
		std::fprintf(out_, "mosta-copy: %s: %" PRIu64 " rows, %s in %s\n", name.c_str(), rows,
					 FormatBytes(bytes).c_str(), FormatDuration(Seconds(Clock::now() - running.start)).c_str());
		if (live_)
			Redraw(true);
		std::fflush(out_);
	}

  private:
	// Erase removes the live lines drawn last (the cursor is below them).
	void
	Erase() {
		if (!live_ || drawn_ == 0)
			return;
		std::fprintf(out_, "\033[%dA\033[J", drawn_);
		drawn_ = 0;
	}

	// Redraw draws a line per running table, at most every kRedraw unless forced.
	void
	Redraw(bool force) {
		Clock::time_point now = Clock::now();
		if (!force && now - last_draw_ < kRedraw)
			return;
		last_draw_ = now;
		Erase();
		for (const auto &[name, running] : running_) {
			std::fprintf(out_, "  %s\033[K\n", Describe(name, running, now).c_str());
			++drawn_;
		}
		std::fflush(out_);
	}

	std::FILE *out_;
	bool live_;
	std::mutex mutex_;
	std::map<std::string, Running> running_;
	Clock::time_point last_draw_{};
	int drawn_ = 0;
};

} // namespace

std::unique_ptr<ProgressListener>
MakeProgressDisplay(std::FILE *out, bool live) {
	return std::make_unique<Display>(out, live);
}

std::string
FormatBytes(std::uint64_t bytes) {
	const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	double value = static_cast<double>(bytes);
	int unit = 0;
	while (value >= 1024 && unit < 4) {
		value /= 1024;
		++unit;
	}
	char text[32];
	if (unit == 0)
		std::snprintf(text, sizeof text, "%" PRIu64 " B", bytes);
	else
		std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
	return text;
}

} // namespace mosta::copy
