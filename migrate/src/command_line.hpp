/*
 * command_line.hpp
 *     The command line of mosta-migrate: `mosta-migrate COMMAND [MAPPING] [--option value | --option=value |
 *     --flag]...`, parsed once by main and handed to the command (commands.hpp). Options are looked up by name;
 *     an option a command does not know is a usage error (Finish), so a typo never runs a migration with a default.
 */
#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace mosta::migrate {

// UsageError is a bad command line; main prints it with the usage and exits 2.
class UsageError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

class CommandLine {
  public:
	// CommandLine parses args (after the command name): positionals and --options ("--name value", "--name=value";
	// an option followed by another option or by nothing is a flag).
	explicit CommandLine(const std::vector<std::string> &args);

	// Positional returns the index-th positional argument; throws UsageError naming what (e.g. "MAPPING") when absent.
	const std::string &Positional(std::size_t index, const char *what) const;
	std::size_t
	PositionalCount() const noexcept {
		return positionals_.size();
	}

	// Option returns the value of --name, or nullopt; Required throws UsageError when absent.
	std::optional<std::string> Option(const std::string &name);
	std::string Required(const std::string &name);
	// Flag tells whether --name was given (without a value).
	bool Flag(const std::string &name);
	// Number returns --name as an integer within [min, max] (fallback when absent); throws UsageError.
	long long Number(const std::string &name, long long fallback, long long min, long long max);

	// Finish throws UsageError naming the first option no lookup asked for (call it after reading every option).
	void Finish() const;

  private:
	std::vector<std::string> positionals_;
	std::map<std::string, std::optional<std::string>> options_;
	std::set<std::string> used_;
};

} // namespace mosta::migrate
