/*
 * options.cpp
 *     mosta-copy's command line (options.hpp): a table of options, the endpoint forms of --source and --dest,
 *     --commandFile's word splitting, and the help text.
 */
#include "run/options.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "mosta/common/conninfo.hpp"
#include "mosta/common/version.hpp"

namespace mosta::copy {

namespace {

// ParseKindWord maps a kind as --dest and --source spell it to an EndpointKind; "db" (the seed's form, the kind
// then given by --dest-dialect) and unknown words give nullopt.
std::optional<EndpointKind>
ParseKindWord(const std::string &word) {
	if (word == "postgres" || word == "postgresql" || word == "pg")
		return EndpointKind::Postgres;
	if (word == "sqlite" || word == "sqlite3")
		return EndpointKind::Sqlite;
	if (word == "sql-dump" || word == "sqldump" || word == "sql")
		return EndpointKind::SqlDump;
	if (word == "json")
		return EndpointKind::Json;
	if (word == "mongodb" || word == "mongo")
		return EndpointKind::Mongodb;
	return std::nullopt;
}

constexpr const char *kKindWords = "sqlite, sql-dump, json, mongodb, postgres (or db with a -dialect)";

// CheckTarget refuses a database URI libpq or mongoc could not read, naming option; file paths must not be empty.
void
CheckTarget(const std::string &option, EndpointKind kind, const std::string &target) {
	if (kind == EndpointKind::Postgres) {
		if (std::optional<UriProblem> problem = CheckUri(Dialect::Postgres, target); problem && !target.empty())
			throw UsageError("invalid value for " + option + ": " + problem->message + " (" + problem->hint + ")");
		return;
	}
	if (kind == EndpointKind::Mongodb) {
		if (std::optional<UriProblem> problem = CheckUri(Dialect::Mongodb, target))
			throw UsageError("invalid value for " + option + ": " + problem->message + " (" + problem->hint + ")");
		return;
	}
	if (target.empty())
		throw UsageError("invalid value \"\" for " + option + ": expected a file path");
}

// An endpoint being assembled from --dest KIND [--dest-dialect D] (--dest-uri X | --dest-file F).
struct Pending {
	bool open = false;
	std::string kind_word; // as given after --dest / --source
	std::optional<EndpointKind> short_kind;
	std::string dialect;
	std::optional<std::string> target;
	std::string target_option; // --dest-uri or --dest-file, for messages
};

struct ParseState {
	Options options;
	Pending dest;
	Pending source;
	bool source_given = false;
	bool in_command_file = false;
};

// Resolve turns a pending --dest or --source (prefix "--dest" or "--source") into an Endpoint.
Endpoint
Resolve(const Pending &pending, const std::string &prefix) {
	Endpoint endpoint;
	if (pending.short_kind) {
		endpoint.kind = *pending.short_kind;
		endpoint.target = *pending.target;
		if (!pending.dialect.empty())
			throw UsageError(prefix + "-dialect applies to " + prefix + " db only (" + prefix + " \"" +
							 MaskCredentialsInText(pending.kind_word) + "\" already names the kind)");
		return endpoint;
	}
	std::optional<EndpointKind> kind;
	if (pending.kind_word == "db") {
		if (pending.dialect.empty())
			throw UsageError(prefix + " db needs " + prefix + "-dialect (postgres, sqlite or mongodb), e.g. " + prefix +
							 " db " + prefix + "-dialect sqlite " + prefix + "-uri ./backups/daily.sqlite");
		kind = ParseKindWord(pending.dialect);
		if (!kind || *kind == EndpointKind::SqlDump || *kind == EndpointKind::Json)
			throw UsageError("invalid value \"" + pending.dialect + "\" for " + prefix +
							 "-dialect: expected postgres, sqlite or mongodb (for a dump or a JSON export: " + prefix +
							 " sql-dump|json " + prefix + "-file FILE)");
	} else {
		kind = ParseKindWord(pending.kind_word);
		if (!kind)
			throw UsageError("invalid value \"" + MaskCredentialsInText(pending.kind_word) + "\" for " + prefix +
							 ": expected " + kKindWords);
		if (!pending.dialect.empty() && ParseKindWord(pending.dialect) != kind)
			throw UsageError(prefix + "-dialect " + pending.dialect + " contradicts " + prefix + " " +
							 pending.kind_word + " (" + prefix + "-dialect goes with " + prefix + " db)");
	}
	endpoint.kind = *kind;
	if (!pending.target) {
		bool database = *kind == EndpointKind::Postgres || *kind == EndpointKind::Mongodb;
		throw UsageError(prefix + " " + pending.kind_word + " needs " +
						 (database ? prefix + "-uri URI" : prefix + "-file FILE (or " + prefix + "-uri FILE)"));
	}
	endpoint.target = *pending.target;
	if (endpoint.kind == EndpointKind::Sqlite && endpoint.target.rfind("sqlite:", 0) == 0)
		endpoint.target = endpoint.target.substr(7);
	CheckTarget(pending.target_option, endpoint.kind, endpoint.target);
	return endpoint;
}

// FlushDest adds the pending --dest, if any, to the options.
void
FlushDest(ParseState &state) {
	if (!state.dest.open)
		return;
	state.options.destinations.push_back(Resolve(state.dest, "--dest"));
	state.dest = Pending{};
}

void
FlushSource(ParseState &state) {
	if (!state.source.open)
		return;
	state.options.source = Resolve(state.source, "--source");
	state.source = Pending{};
}

// StartEndpoint begins a --dest or --source: a kind word, or a short form KIND:TARGET / URI.
void
StartEndpoint(Pending &pending, const std::string &option, const std::string &value) {
	pending = Pending{};
	pending.open = true;
	pending.kind_word = value;
	if (value == "db" || ParseKindWord(value))
		return;
	Endpoint endpoint = ParseEndpointShort(option, value);
	pending.short_kind = endpoint.kind;
	pending.target = endpoint.target;
	pending.target_option = option;
}

// SetTarget records --dest-uri / --dest-file (or the --source ones) for the pending endpoint.
void
SetTarget(Pending &pending, const std::string &prefix, const std::string &option, const std::string &value) {
	if (!pending.open)
		throw UsageError(option + " must follow " + prefix + " (e.g. " + prefix + " sqlite " + prefix +
						 "-file ./backups/daily.sqlite)");
	if (pending.short_kind || (pending.target && pending.target_option != option))
		throw UsageError(option + " given twice for one " + prefix + " (" + prefix + " \"" +
						 MaskCredentialsInText(pending.kind_word) + "\" already has its target)");
	pending.target = value;
	pending.target_option = option;
}

void
SetDialect(Pending &pending, const std::string &prefix, const std::string &value) {
	if (!pending.open)
		throw UsageError(prefix + "-dialect must follow " + prefix + " db");
	pending.dialect = value;
}

// Number reads a positive count for option, at most max.
long long
Number(const std::string &option, const std::string &value, long long min, long long max, const char *what) {
	bool digits = !value.empty() && value.size() <= 12 && value.find_first_not_of("0123456789") == std::string::npos;
	long long number = digits ? std::stoll(value) : -1;
	if (!digits || number < min || number > max)
		throw UsageError("invalid value \"" + value + "\" for " + option + ": expected " + what + " from " +
						 std::to_string(min) + " to " + std::to_string(max));
	return number;
}

// Globs splits a comma-separated list of globs; empty items are refused.
std::vector<std::string>
Globs(const std::string &option, const std::string &value) {
	std::vector<std::string> globs;
	std::string item;
	std::stringstream stream(value);
	while (std::getline(stream, item, ',')) {
		std::size_t first = item.find_first_not_of(" \t");
		std::size_t last = item.find_last_not_of(" \t");
		if (first == std::string::npos)
			throw UsageError("invalid value \"" + value + "\" for " + option +
							 ": expected comma-separated table names or globs (schema.table, table, app.*)");
		globs.push_back(item.substr(first, last - first + 1));
	}
	if (globs.empty())
		throw UsageError("invalid value \"\" for " + option + ": expected table names or globs (schema.table, app.*)");
	return globs;
}

std::string
NonEmpty(const std::string &option, const std::string &value, const char *expected) {
	if (value.empty())
		throw UsageError("invalid value \"\" for " + option + ": expected " + expected);
	return value;
}

// Which command an option applies to.
enum Command : unsigned { kCopy = 1U << 0, kVerify = 1U << 1 };

struct Flag {
	const char *name;
	bool takes_value;
	unsigned commands;
	void (*apply)(ParseState &state, const std::string &option, const std::string &value);
};

void ReadCommandFile(ParseState &state, const std::string &path);

constexpr Flag kFlags[] = {
	{"--help", false, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.help = true; }},
	{"-h", false, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.help = true; }},
	{"--version", false, kCopy,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.version = true; }},
	{"--commandFile", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 if (s.in_command_file)
			 throw UsageError(o + " cannot be used inside a command file");
		 ReadCommandFile(s, NonEmpty(o, v, "a file of options"));
	 }},
	{"--source", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 FlushSource(s);
		 StartEndpoint(s.source, o, v);
		 s.source_given = true;
	 }},
	{"--source-dialect", true, kCopy,
	 [](ParseState &s, const std::string &, const std::string &v) { SetDialect(s.source, "--source", v); }},
	{"--source-uri", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) { SetTarget(s.source, "--source", o, v); }},
	{"--source-file", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) { SetTarget(s.source, "--source", o, v); }},
	{"--dest", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 FlushDest(s);
		 StartEndpoint(s.dest, o, v);
	 }},
	{"--dest-dialect", true, kCopy,
	 [](ParseState &s, const std::string &, const std::string &v) { SetDialect(s.dest, "--dest", v); }},
	{"--dest-uri", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) { SetTarget(s.dest, "--dest", o, v); }},
	{"--dest-file", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) { SetTarget(s.dest, "--dest", o, v); }},
	{"--schemas", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 s.options.schemas_file = NonEmpty(o, v, "the ORM's entities.json");
	 }},
	{"--create-tables", false, kCopy,
	 [](ParseState &s, const std::string &, const std::string &) {
		 s.options.destination_options.create_tables = true;
	 }},
	{"--batch-size", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 s.options.destination_options.batch_size =
			 static_cast<std::size_t>(Number(o, v, 1, 1'000'000, "a number of rows"));
	 }},
	{"--jobs", true, kCopy | kVerify,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 s.options.destination_options.jobs = static_cast<int>(Number(o, v, 1, 64, "a number of tables at once"));
	 }},
	{"-j", true, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &v) {
		 s.options.destination_options.jobs =
			 static_cast<int>(Number("--jobs", v, 1, 64, "a number of tables at once"));
	 }},
	{"--tables", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 for (std::string &glob : Globs(o, v))
			 s.options.tables.push_back(std::move(glob));
	 }},
	{"--exclude", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 for (std::string &glob : Globs(o, v))
			 s.options.exclude.push_back(std::move(glob));
	 }},
	{"--manifest", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 std::string path = NonEmpty(o, v, "a file path");
		 if (path.back() == '/')
			 throw UsageError("invalid value \"" + v + "\" for " + o + ": expected a file path, not a directory");
		 s.options.manifest = path;
	 }},
	{"--keep", true, kCopy,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 s.options.keep = static_cast<int>(Number(o, v, 1, 100'000, "a number of dated backups to keep"));
	 }},
	{"--progress", false, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.progress = ProgressMode::On; }},
	{"--no-progress", false, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.progress = ProgressMode::Off; }},
	{"--quiet", false, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.quiet = true; }},
	{"-q", false, kCopy | kVerify,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.quiet = true; }},
	{"--no-writer-threads", false, kCopy,
	 [](ParseState &s, const std::string &, const std::string &) { s.options.writer_threads = false; }},
	{"--against", true, kVerify,
	 [](ParseState &s, const std::string &o, const std::string &v) {
		 CheckTarget(o, EndpointKind::Postgres, v);
		 s.options.against = NonEmpty(o, v, "a PostgreSQL URI or connection string");
	 }},
};

const Flag *
FindFlag(const std::string &name) {
	for (const Flag &flag : kFlags)
		if (name == flag.name)
			return &flag;
	return nullptr;
}

// ApplyWords parses words (from the command line, or a command file: where names it for messages).
void
ApplyWords(ParseState &state, const std::vector<CommandWord> &words, unsigned command, const std::string &where) {
	for (std::size_t i = 0; i < words.size(); ++i) {
		std::string prefix = where.empty() ? std::string() : where + ":" + std::to_string(words[i].line) + ": ";
		try {
			std::string arg = words[i].text;
			if (command == kVerify && !arg.empty() && arg[0] != '-') {
				if (!state.options.verify_manifest.empty())
					throw UsageError("verify takes one manifest (got \"" + arg + "\" too)");
				state.options.verify_manifest = arg;
				continue;
			}
			std::optional<std::string> inline_value;
			if (std::size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
				inline_value = arg.substr(eq + 1);
				arg = arg.substr(0, eq);
			}
			const Flag *flag = FindFlag(arg);
			if (flag == nullptr)
				throw UsageError("unknown option \"" + MaskCredentialsInText(words[i].text) + "\" (see --help)");
			if ((flag->commands & command) == 0)
				throw UsageError("option " + arg +
								 (command == kVerify ? " does not apply to verify" : " applies to verify only") +
								 " (see --help)");
			if (!flag->takes_value && inline_value)
				throw UsageError("option " + arg + " takes no value (got \"" + *inline_value + "\")");
			if (flag->takes_value && !inline_value && i + 1 >= words.size())
				throw UsageError("missing value for " + arg);
			std::string value = !flag->takes_value ? std::string() : inline_value ? *inline_value : words[++i].text;
			flag->apply(state, arg, value);
		} catch (const UsageError &e) {
			throw UsageError(prefix + e.what());
		}
	}
}

void
ReadCommandFile(ParseState &state, const std::string &path) {
	std::ifstream in(path, std::ios::binary);
	if (!in)
		throw UsageError("cannot read --commandFile " + path + ": no such file or not readable");
	std::stringstream text;
	text << in.rdbuf();
	std::vector<CommandWord> words = SplitCommandText(text.str(), path);
	state.in_command_file = true;
	ApplyWords(state, words, kCopy, path);
	state.in_command_file = false;
}

} // namespace

std::vector<CommandWord>
SplitCommandText(const std::string &text, const std::string &origin) {
	std::vector<CommandWord> words;
	std::string word;
	bool in_word = false;
	int line = 1;
	auto finish = [&] {
		if (in_word)
			words.push_back({word, line});
		word.clear();
		in_word = false;
	};
	for (std::size_t i = 0; i < text.size(); ++i) {
		char c = text[i];
		if (c == '\n') {
			finish();
			++line;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			finish();
		} else if (c == '#' && !in_word) {
			while (i + 1 < text.size() && text[i + 1] != '\n')
				++i;
		} else if (c == '\\') {
			in_word = true;
			if (i + 1 < text.size() && text[i + 1] == '\n') {
				++i; // a line continued
				++line;
			} else if (i + 1 < text.size()) {
				word += text[++i];
			}
		} else if (c == '\'' || c == '"') {
			in_word = true;
			int start_line = line;
			std::size_t j = i + 1;
			for (; j < text.size() && text[j] != c; ++j) {
				if (c == '"' && text[j] == '\\' && j + 1 < text.size() &&
					std::string_view("\"\\$`").find(text[j + 1]) != std::string_view::npos)
					++j;
				else if (text[j] == '\n')
					++line;
				word += text[j];
			}
			if (j >= text.size())
				throw UsageError(origin + ":" + std::to_string(start_line) + ": unterminated " +
								 (c == '"' ? "double" : "single") + " quote (close it on the same option)");
			i = j;
		} else {
			in_word = true;
			word += c;
		}
	}
	finish();
	return words;
}

Endpoint
ParseEndpointShort(const std::string &option, const std::string &text) {
	Endpoint endpoint;
	std::size_t colon = text.find(':');
	std::optional<EndpointKind> prefix =
		colon == std::string::npos ? std::nullopt : ParseKindWord(text.substr(0, colon));
	if (text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0) {
		endpoint.kind = EndpointKind::Postgres;
		endpoint.target = text;
	} else if (text.rfind("mongodb://", 0) == 0 || text.rfind("mongodb+srv://", 0) == 0) {
		endpoint.kind = EndpointKind::Mongodb;
		endpoint.target = text;
	} else if (prefix) { // KIND:TARGET (a file path may hold '=' or ':')
		endpoint.kind = *prefix;
		endpoint.target = text.substr(colon + 1);
	} else if (text.find('=') != std::string::npos && text.find("://") == std::string::npos) {
		endpoint.kind = EndpointKind::Postgres; // a conninfo: "host=... dbname=..."
		endpoint.target = text;
	} else {
		throw UsageError("invalid value \"" + MaskCredentialsInText(text) + "\" for " + option + ": expected KIND (" +
						 kKindWords +
						 ") or KIND:TARGET (sqlite:FILE, json:FILE, sql-dump:FILE, postgres:URI) or a "
						 "postgresql:// or mongodb:// URI");
	}
	CheckTarget(option, endpoint.kind, endpoint.target);
	return endpoint;
}

Options
ParseOptions(const std::vector<std::string> &args) {
	ParseState state;
	unsigned command = kCopy;
	std::vector<CommandWord> words;
	for (const std::string &arg : args)
		words.push_back({arg, 0});
	if (!words.empty() && words[0].text == "verify") {
		state.options.verify = true;
		command = kVerify;
		words.erase(words.begin());
	}
	ApplyWords(state, words, command, "");
	Options &options = state.options;
	if (options.help || options.version)
		return options;
	if (command == kVerify) {
		if (options.verify_manifest.empty())
			throw UsageError("verify needs a manifest: mosta-copy verify MANIFEST [--against URI] [--jobs N]");
		return options;
	}
	FlushSource(state);
	FlushDest(state);
	if (!options.source)
		throw UsageError("no --source: say what to copy, e.g. --source postgresql://u@h/db or --source "
						 "sqlite:./backups/daily.sqlite (see --help)");
	if (options.destinations.empty())
		throw UsageError("no --dest: say where to copy, e.g. --dest sqlite --dest-file ./backups/daily.sqlite "
						 "(repeat --dest for more; see --help)");
	if (options.source->kind == EndpointKind::Mongodb)
		throw UsageError("--source mongodb is not supported: a MongoDB backup is read by mosta-copy verify MANIFEST "
						 "only (restore from the SQLite, JSON or SQL dump of the same run)");
	for (std::size_t i = 0; i < options.destinations.size(); ++i)
		for (std::size_t j = 0; j < i; ++j)
			if (options.destinations[i].kind == options.destinations[j].kind &&
				options.destinations[i].target == options.destinations[j].target)
				throw UsageError("--dest " + std::string(EndpointKindName(options.destinations[i].kind)) + " " +
								 MaskCredentialsInText(options.destinations[i].target) + " given twice");
	if (options.keep > 0) {
		bool any_file = false;
		for (const Endpoint &dest : options.destinations)
			any_file = any_file || (dest.kind != EndpointKind::Postgres && dest.kind != EndpointKind::Mongodb);
		if (!any_file)
			throw UsageError("--keep rotates dated backup files: it needs a file --dest (sqlite, sql-dump or json)");
	}
	return options;
}

std::string
HelpText() {
	return R"(Usage: mosta-copy --source SOURCE --dest KIND --dest-file FILE [--dest ...]... [OPTION]...
       mosta-copy --commandFile FILE [OPTION]...
       mosta-copy verify MANIFEST [--against URI] [--jobs N]
Copies a database in one consistent snapshot, each table read once and written to every destination: a
backup of PostgreSQL to SQLite, an SQL dump, a JSON export and MongoDB at once, or a restore of one of those
into PostgreSQL. Writes a manifest (row counts and canonical checksums per table, the snapshot's LSN) that
verify checks the files against.

Source (one):
  --source postgresql://USER@HOST:PORT/DB   a PostgreSQL database (also postgres:URI, or a conninfo
                           "host=... dbname=..."); the seed's form: --source db --source-dialect postgres
                           --source-uri URI
  --source sqlite:FILE | json:FILE | sql-dump:FILE
                           a backup mosta-copy wrote (a restore: --dest postgres); also
                           --source KIND --source-file FILE
Destinations (one or more; each --dest starts a new one):
  --dest sqlite --dest-file FILE      also --dest db --dest-dialect sqlite --dest-uri FILE
  --dest sql-dump --dest-file FILE    a plain SQL script (psql -f restores it)
  --dest json --dest-file FILE|DIR/   the JSON export (one file, or one file per table in DIR/)
  --dest mongodb --dest-uri mongodb://HOST:PORT/DB
  --dest postgres --dest-uri URI      a restore into an empty database (also --dest db --dest-dialect postgres)
What and how:
  --tables GLOB,...        copy only the tables matching a glob (fnmatch: * ? [..]), matched against
                           schema.table and against the bare table name; repeatable
  --exclude GLOB,...       leave out the tables matching a glob; repeatable
  --schemas FILE           copy only the tables of the ORM's entities.json: a JSON array (or
                           {"entities": [...]}) of objects naming their table by "collection", "table" or
                           "name", and optionally "schema"; a table not in the source is an error
  --create-tables          create types, sequences and tables (SQL dump: write their DDL); constraints,
                           indexes and foreign keys after the data
  --batch-size N           rows per batch (default 1000)
  --jobs N, -j N           tables copied at once (default 1), all in the same snapshot
  --manifest FILE          where the manifest goes (default: next to the first file destination,
                           "DIR/STEM.manifest.json": daily.sqlite -> daily.manifest.json; none for a
                           restore or a MongoDB-only copy unless given)
  --keep N                 dated backups: each file's name gets the run's UTC time before its extension
                           (daily.sqlite -> daily-20261207T020000Z.sqlite, the manifest too) and after a
                           successful run only the N newest dated files of each destination are kept
  --commandFile FILE       read options from FILE: one or more per line as on the command line, quotes as in
                           a shell, '#' starts a comment; options after it on the command line override it
                           (--dest, --tables, --exclude add to it)
  --progress, --no-progress   show (or not) the live progress of each table (default: when stderr is a
                           terminal; otherwise a line per table when it ends and every 10 s for a long one)
  --quiet, -q              print only the summary line and errors
  --version                print the version and exit
  -h, --help               print this help and exit

verify MANIFEST: check each file the manifest lists (size and CRC-32C, then each table read back: row count
and canonical checksum), and with --against URI a live PostgreSQL database (a table changed since the backup
differs). One line per file and table (--quiet: only the differences); exit status 0 when everything agrees,
1 otherwise.

Running from cron: nothing is written under a final name before every destination succeeded (temporary
names, then renames; the manifest last); temporaries left by a killed run are removed by the next run. One
summary line on stderr: "mosta-copy: ok: ..." or "mosta-copy: FAILED: REASON". Credentials are masked in
every message. SIGINT or SIGTERM stop the copy, remove what was written and exit 1.

Exit status: 0 success, 1 failure (or verify found a difference), 2 bad usage.
)";
}

std::string
VersionText() {
	return std::string("mosta-copy ") + kMostaVersion + "\n";
}

} // namespace mosta::copy
