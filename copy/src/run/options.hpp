/*
 * options.hpp
 *     mosta-copy's command line (docs/copy.md, "Command line"): the copy (a source, one or more --dest, what to
 *     copy and how) and the verify subcommand (verify MANIFEST [--against URI]). --commandFile FILE reads options
 *     from a file in the seed's format (one or more options per line, quotes as in a shell, '#' comments); options
 *     after it on the command line override it (or add to it: --dest, --tables, --exclude).
 *
 *     Every mistake is a UsageError (exit status 2) whose message names the option, the value and what is
 *     expected; connection strings in messages are masked (mosta::MaskCredentialsInText).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/endpoint.hpp"

namespace mosta::copy {

// UsageError is a command line (or --commandFile, --schemas) mistake: exit status 2.
class UsageError : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// Whether the progress display is shown: on a terminal only (Auto), or as --progress / --no-progress say.
enum class ProgressMode { Auto, On, Off };

struct Options {
	bool help = false;
	bool version = false;
	bool verify = false; // the verify subcommand

	// The copy.
	std::optional<Endpoint> source;
	std::vector<Endpoint> destinations;
	DestinationOptions destination_options; // --create-tables, --batch-size, --jobs
	std::vector<std::string> tables;		// --tables globs (fnmatch), matched against "schema.table" and "table"
	std::vector<std::string> exclude;		// --exclude globs
	std::string schemas_file;				// --schemas: the ORM's entities.json
	std::string manifest;					// --manifest FILE; "" for the default
	int keep = 0;							// --keep N: dated backups, the N newest kept; 0: off
	ProgressMode progress = ProgressMode::Auto;
	bool quiet = false;
	bool writer_threads = true; // --no-writer-threads: destinations written by the reading thread (benchmarks)

	// verify MANIFEST [--against URI]
	std::string verify_manifest;
	std::string against;
};

// ParseOptions reads args (argv without the program name); throws UsageError. A --commandFile path is read
// relative to the working directory, and so are the paths it names.
Options ParseOptions(const std::vector<std::string> &args);

// SplitCommandText splits the text of a --commandFile into arguments as a shell would: blanks separate, '...'
// keeps everything, "..." keeps everything but \" \\ \$ \` (escaped), \ outside quotes escapes the next
// character, # at the start of a word comments out the rest of the line. origin names the file in errors
// (an unterminated quote: UsageError "FILE:LINE: ...").
struct CommandWord {
	std::string text;
	int line = 0;
};
std::vector<CommandWord> SplitCommandText(const std::string &text, const std::string &origin);

// ParseEndpointShort reads the short forms of --source (and of --dest KIND:TARGET): "sqlite:FILE", "json:FILE",
// "sql-dump:FILE", "postgres:URI", "mongodb://...", "postgresql://..." or a conninfo "host=... dbname=...";
// throws UsageError naming option.
Endpoint ParseEndpointShort(const std::string &option, const std::string &text);

// HelpText returns --help's text; VersionText --version's.
std::string HelpText();
std::string VersionText();

} // namespace mosta::copy
