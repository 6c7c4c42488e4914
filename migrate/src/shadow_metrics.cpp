/*
 * shadow_metrics.cpp
 *     MetricsText and WriteFileAtomically (shadow_metrics.hpp).
 */
#include "shadow_metrics.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <unistd.h>

namespace mosta::migrate {

namespace {

// LabelValue escapes a label value as the exposition format asks (backslash, double quote, line feed).
std::string
LabelValue(const std::string &value) {
	std::string out;
	for (char c : value) {
		if (c == '\\' || c == '"')
			out += '\\';
		if (c == '\n') {
			out += "\\n";
			continue;
		}
		out += c;
	}
	return out;
}

struct Family {
	const char *name;
	const char *type;
	const char *help;
};

constexpr Family kFamilies[] = {
	{"mosta_migrate_shadow_checks_total", "counter",
	 "Keys the shadow-read sampler compared between MongoDB and PostgreSQL."},
	{"mosta_migrate_shadow_mismatches_total", "counter",
	 "Sampled keys whose MongoDB document and PostgreSQL rows differed after a re-read."},
	{"mosta_migrate_shadow_errors_total", "counter", "Sampled keys that could not be read on one side."},
	{"mosta_migrate_shadow_clean_window_seconds", "gauge",
	 "Seconds since the last mismatch (or since sampling began): the clean shadow-read window."},
};

std::string
Value(const ShadowCounters &counters, std::size_t family) {
	switch (family) {
	case 0:
		return std::to_string(counters.checked);
	case 1:
		return std::to_string(counters.mismatches);
	case 2:
		return std::to_string(counters.errors);
	default: {
		char buffer[64];
		std::snprintf(buffer, sizeof buffer, "%.3f", counters.clean_window_seconds);
		return buffer;
	}
	}
}

} // namespace

std::string
MetricsText(const std::string &mapping, const std::vector<ShadowCounters> &counters) {
	std::string text;
	for (std::size_t f = 0; f < std::size(kFamilies); ++f) {
		text += std::string("# HELP ") + kFamilies[f].name + " " + kFamilies[f].help + "\n";
		text += std::string("# TYPE ") + kFamilies[f].name + " " + kFamilies[f].type + "\n";
		for (const ShadowCounters &c : counters)
			text += std::string(kFamilies[f].name) + "{mapping=\"" + LabelValue(mapping) + "\",collection=\"" +
					LabelValue(c.collection) + "\"} " + Value(c, f) + "\n";
	}
	return text;
}

void
WriteFileAtomically(const std::string &path, const std::string &text) {
	const std::string temporary = path + ".tmp";
	std::FILE *file = std::fopen(temporary.c_str(), "w");
	if (file == nullptr)
		throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(errno));
	bool ok = std::fwrite(text.data(), 1, text.size(), file) == text.size();
	ok = std::fflush(file) == 0 && ok;
	ok = ::fsync(fileno(file)) == 0 && ok;
	int saved = errno;
	ok = std::fclose(file) == 0 && ok;
	if (!ok) {
		std::remove(temporary.c_str());
		throw std::runtime_error("cannot write " + temporary + ": " + std::strerror(saved != 0 ? saved : errno));
	}
	if (std::rename(temporary.c_str(), path.c_str()) != 0) {
		saved = errno;
		std::remove(temporary.c_str());
		throw std::runtime_error("cannot rename " + temporary + " to " + path + ": " + std::strerror(saved));
	}
}

} // namespace mosta::migrate
