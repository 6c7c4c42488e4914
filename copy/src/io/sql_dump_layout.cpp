/*
 * sql_dump_layout.cpp
 *     The header, table data headers and footer of an SQL dump (sql_dump_layout.hpp).
 */
#include "io/sql_dump_layout.hpp"

#include <vector>

#include "model/ddl.hpp"
#include "model/value_text.hpp"
#include "mosta/common/conninfo.hpp"
#include "mosta/common/version.hpp"

namespace mosta::copy {

namespace {

// pg_dump's session settings (a plain dump's header), before mosta-copy's value settings (kSessionSettingsSql).
constexpr const char *kDumpSettings[] = {
	"SET statement_timeout = 0;",
	"SET lock_timeout = 0;",
	"SET idle_in_transaction_session_timeout = 0;",
	"SET client_encoding = 'UTF8';",
	"SET standard_conforming_strings = on;",
	"SELECT pg_catalog.set_config('search_path', '', false);",
	"SET check_function_bodies = false;",
	"SET xmloption = content;",
	"SET client_min_messages = warning;",
	"SET row_security = off;",
};

// AppendStatements writes each statement followed by a blank line.
void
AppendStatements(const std::vector<std::string> &statements, std::string &out) {
	for (const std::string &statement : statements) {
		out += statement;
		out += "\n\n";
	}
}

// AppendValueSettings writes kSessionSettingsSql one statement a line, but the client_encoding already set.
void
AppendValueSettings(std::string &out) {
	std::string_view settings = kSessionSettingsSql;
	while (!settings.empty()) {
		std::size_t end = settings.find(';');
		std::string_view statement = settings.substr(0, end);
		while (!statement.empty() && statement.front() == ' ')
			statement.remove_prefix(1);
		if (!statement.empty() && statement.find("client_encoding") == std::string_view::npos) {
			out.append(statement);
			out += ";\n";
		}
		if (end == std::string_view::npos)
			break;
		settings.remove_prefix(end + 1);
	}
}

} // namespace

std::string
CommentText(std::string_view text) {
	std::string out(text);
	for (char &c : out)
		if (c == '\n' || c == '\r')
			c = ' ';
	return out;
}

std::string
DumpHeader(const DatabaseSchema &schema, const SnapshotInfo &snapshot, bool create_tables) {
	std::string out;
	out += "--\n-- PostgreSQL database dump written by mosta-copy\n--\n\n";
	out += "-- Dumped by mosta-copy version " + std::string(kMostaVersion) + "\n";
	std::string source = snapshot.source.empty() ? "(unknown)" : MaskCredentialsInText(snapshot.source);
	out += "-- Source: " + CommentText(source);
	if (!snapshot.server.empty())
		out += " (PostgreSQL " + CommentText(snapshot.server) + ")";
	out += "\n";
	out += "-- Snapshot: LSN " + CommentText(snapshot.lsn.empty() ? "unknown" : snapshot.lsn) + " at " +
		   CommentText(snapshot.time.empty() ? "unknown" : snapshot.time) + "\n";
	out += std::string("-- Contents: ") + (create_tables ? "schema and data" : "data only") + ", " +
		   std::to_string(schema.tables.size()) + " table(s)\n";
	out += "-- Restore: psql -v ON_ERROR_STOP=1 -d DATABASE -f FILE, or mosta-copy --source sql-dump:FILE\n\n";
	for (const char *setting : kDumpSettings) {
		out += setting;
		out += '\n';
	}
	AppendValueSettings(out);
	out += '\n';
	out.append(kDumpSchemaPrefix);
	out += SchemaToJson(schema, snapshot);
	out += "\n\n";
	if (create_tables)
		AppendStatements(PreDataStatements(schema), out);
	return out;
}

std::string
TableDataHeader(const TableDef &table) {
	std::string out = "--\n-- Data for Name: " + CommentText(table.name) +
					  "; Type: TABLE DATA; Schema: " + CommentText(table.schema) + "\n--\n\n";
	out += CopyFromStatement(table);
	out += '\n';
	return out;
}

std::string
TableDataTrailer(std::uint64_t rows) {
	std::string out(kDumpCopyEnd);
	out += '\n';
	out.append(kDumpRowsPrefix);
	out += std::to_string(rows);
	out += "\n\n";
	return out;
}

std::string
DumpFooter(const DatabaseSchema &schema, bool create_tables) {
	std::string out;
	AppendStatements(create_tables ? PostDataStatements(schema) : SequenceValueStatements(schema), out);
	out += "--\n";
	out.append(kDumpEndLine);
	out += "\n--\n";
	return out;
}

} // namespace mosta::copy
