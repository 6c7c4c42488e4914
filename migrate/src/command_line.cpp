/*
 * command_line.cpp
 *     CommandLine (command_line.hpp).
 */
#include "command_line.hpp"

#include <cerrno>
#include <cstdlib>

namespace mosta::migrate {

CommandLine::CommandLine(const std::vector<std::string> &args) {
	for (std::size_t i = 0; i < args.size(); ++i) {
		const std::string &arg = args[i];
		if (arg.rfind("--", 0) != 0 || arg == "--") {
			positionals_.push_back(arg);
			continue;
		}
		std::string name = arg.substr(2);
		std::optional<std::string> value;
		if (std::size_t eq = name.find('='); eq != std::string::npos) {
			value = name.substr(eq + 1);
			name.resize(eq);
		} else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
			value = args[++i];
		}
		if (name.empty())
			throw UsageError("an option without a name: \"" + arg + "\"");
		if (options_.count(name) != 0)
			throw UsageError("--" + name + " is given twice");
		options_[name] = value;
	}
}

const std::string &
CommandLine::Positional(std::size_t index, const char *what) const {
	if (index >= positionals_.size())
		throw UsageError(std::string(what) + " is missing");
	return positionals_[index];
}

std::optional<std::string>
CommandLine::Option(const std::string &name) {
	used_.insert(name);
	auto found = options_.find(name);
	if (found == options_.end())
		return std::nullopt;
	if (!found->second)
		throw UsageError("--" + name + " needs a value");
	return found->second;
}

std::string
CommandLine::Required(const std::string &name) {
	std::optional<std::string> value = Option(name);
	if (!value)
		throw UsageError("--" + name + " is required");
	return *value;
}

bool
CommandLine::Flag(const std::string &name) {
	used_.insert(name);
	auto found = options_.find(name);
	if (found == options_.end())
		return false;
	if (found->second)
		throw UsageError("--" + name + " takes no value (got \"" + *found->second + "\")");
	return true;
}

long long
CommandLine::Number(const std::string &name, long long fallback, long long min, long long max) {
	std::optional<std::string> text = Option(name);
	if (!text)
		return fallback;
	errno = 0;
	char *end = nullptr;
	long long value = std::strtoll(text->c_str(), &end, 10);
	if (text->empty() || *end != '\0' || errno != 0 || value < min || value > max)
		throw UsageError("--" + name + " must be an integer from " + std::to_string(min) + " to " +
						 std::to_string(max) + " (got \"" + *text + "\")");
	return value;
}

void
CommandLine::Finish() const {
	for (const auto &[name, value] : options_)
		if (used_.count(name) == 0)
			throw UsageError("unknown option --" + name);
}

} // namespace mosta::migrate
