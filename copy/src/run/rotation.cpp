/*
 * rotation.cpp
 *     Dated names and --keep (rotation.hpp).
 */
#include "run/rotation.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <filesystem>
#include <system_error>

namespace mosta::copy {

namespace fs = std::filesystem;

namespace {

// kStampSize is the length of "20261207T020000Z".
constexpr std::size_t kStampSize = 16;

// IsStamp says whether text is YYYYMMDDTHHMMSSZ.
bool
IsStamp(std::string_view text) {
	if (text.size() != kStampSize || text[8] != 'T' || text[15] != 'Z')
		return false;
	for (std::size_t i = 0; i < 15; ++i)
		if (i != 8 && !std::isdigit(static_cast<unsigned char>(text[i])))
			return false;
	return true;
}

// Undecorated strips the trailing '/' of a directory path.
std::string
Undecorated(const std::string &path, bool *directory) {
	std::string out = path;
	*directory = false;
	while (out.size() > 1 && out.back() == '/') {
		out.pop_back();
		*directory = true;
	}
	return out;
}

} // namespace

std::string
RunStamp(std::chrono::system_clock::time_point time) {
	std::time_t seconds = std::chrono::system_clock::to_time_t(time);
	std::tm tm{};
	gmtime_r(&seconds, &tm);
	char text[32];
	std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
	return text;
}

std::pair<std::string, std::string>
SplitExtension(const std::string &name) {
	const std::string manifest = kManifestExtension;
	if (name.size() > manifest.size() && name.compare(name.size() - manifest.size(), manifest.size(), manifest) == 0)
		return {name.substr(0, name.size() - manifest.size()), manifest};
	std::size_t dot = name.rfind('.');
	if (dot == std::string::npos || dot == 0)
		return {name, ""};
	return {name.substr(0, dot), name.substr(dot)};
}

std::string
DatedPath(const std::string &path, const std::string &stamp) {
	bool directory = false;
	fs::path undecorated(Undecorated(path, &directory));
	auto [stem, extension] = SplitExtension(undecorated.filename().string());
	std::string dated = (undecorated.parent_path() / (stem + "-" + stamp + extension)).string();
	return directory ? dated + "/" : dated;
}

std::vector<std::string>
RotateDated(const std::string &path, int keep, std::vector<std::string> *errors) {
	bool directory = false;
	fs::path undecorated(Undecorated(path, &directory));
	auto [stem, extension] = SplitExtension(undecorated.filename().string());
	fs::path parent = undecorated.parent_path().empty() ? fs::path(".") : undecorated.parent_path();
	const std::string prefix = stem + "-";
	std::vector<std::string> dated; // file names, newest last once sorted
	std::error_code error;
	for (const fs::directory_entry &entry : fs::directory_iterator(parent, error)) {
		std::string name = entry.path().filename().string();
		if (name.size() != prefix.size() + kStampSize + extension.size() || name.rfind(prefix, 0) != 0 ||
			name.compare(name.size() - extension.size(), extension.size(), extension) != 0 ||
			!IsStamp(std::string_view(name).substr(prefix.size(), kStampSize)))
			continue;
		// a file destination's dated names are files, a JSON directory's are directories: never the other
		std::error_code kind_error;
		if (entry.is_directory(kind_error) != directory)
			continue;
		dated.push_back(name);
	}
	if (error && errors)
		errors->push_back("cannot list " + parent.string() + ": " + error.message());
	std::sort(dated.begin(), dated.end());
	std::vector<std::string> removed;
	if (keep < 0 || dated.size() <= static_cast<std::size_t>(keep))
		return removed;
	for (std::size_t i = 0; i + static_cast<std::size_t>(keep) < dated.size(); ++i) {
		fs::path victim = parent / dated[i];
		std::error_code remove_error;
		if (directory)
			fs::remove_all(victim, remove_error);
		else
			fs::remove(victim, remove_error);
		if (remove_error) {
			if (errors)
				errors->push_back("cannot remove " + victim.string() + ": " + remove_error.message());
			continue;
		}
		removed.push_back(victim.string());
	}
	return removed;
}

} // namespace mosta::copy
