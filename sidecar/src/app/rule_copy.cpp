/*
 * rule_copy.cpp
 *     CopyInSnapshot (see rule_copy.hpp).
 */
#include "app/rule_copy.hpp"

#include <memory>

#include "app/initial_copy.hpp"
#include "app/log.hpp"

namespace mosta::sidecar {

namespace {

// kCopyFetchRows is how many documents one FETCH of the initial copy reads.
constexpr int kCopyFetchRows = 10'000;

// ApplyToAll applies work to every target still working; a failing target is left failed (the others go on).
boost::asio::awaitable<void>
ApplyToAll(const std::vector<CopyTarget> &targets, const std::function<void(const CopyTarget &, Sink &)> &work) {
	for (const CopyTarget &target : targets) {
		if (target.channel->Failed())
			continue;
		try {
			co_await target.channel->Run([&](Sink &sink) { work(target, sink); });
		} catch (...) {
			target.channel->Fail(std::current_exception());
		}
	}
}

} // namespace

boost::asio::awaitable<std::string>
TruncateDocument(PgConnection &sql, const std::vector<std::string> &tables) {
	std::string names;
	for (const std::string &table : tables)
		names += (names.empty() ? "" : ", ") + SqlLiteral(sql, table);
	const std::string truncate_sql =
		"SELECT json_build_object('op', 'truncate', 'tables', json_agg(json_build_object('schema', n.nspname, "
		"'table', c.relname) ORDER BY x.n), 'cascade', false, 'restart_identity', false)::text FROM unnest(ARRAY[" +
		names +
		"]::text[]) WITH ORDINALITY x(name, n) JOIN pg_class c ON c.oid = to_regclass(x.name)"
		" JOIN pg_namespace n ON n.oid = c.relnamespace";
	PgResultHandle truncate = co_await sql.Exec("emptying the target before the new copy", truncate_sql);
	co_return PQgetisnull(truncate.get(), 0, 0) ? std::string() : std::string(PQgetvalue(truncate.get(), 0, 0));
}

boost::asio::awaitable<long long>
CopyTable(PgConnection &sql, const std::string &table, const std::vector<CopyTarget> &targets, DecoderOptions options) {
	const std::string context = "copying " + table;
	// the table's shape first: every target then holds the table, rows or none
	std::string shape_document = co_await ShapeDocument(sql, table);
	ParsedChange shape = ParseChange(shape_document, options);
	co_await ApplyToAll(targets, [&](const CopyTarget &, Sink &sink) { sink.Apply(*shape); });
	ChangeDecoder decoder(options);
	const std::string declare_sql = CopyCursorSql(sql, table);
	co_await sql.Exec(context, declare_sql);
	const std::string fetch_sql = "FETCH " + std::to_string(kCopyFetchRows) + " FROM mosta_copy";
	long long rows = 0;
	for (;;) {
		PgResultHandle batch = co_await sql.Exec(context, fetch_sql);
		int count = PQntuples(batch.get());
		// the rows as one message of count documents, decoded once, applied to every target
		std::string documents;
		for (int row = 0; row < count; ++row) {
			documents.append(PQgetvalue(batch.get(), row, 0),
							 static_cast<std::size_t>(PQgetlength(batch.get(), row, 0)));
			documents.push_back('\n');
		}
		std::shared_ptr<const DecodedMessage> decoded = decoder.Decode(documents);
		co_await ApplyToAll(targets, [&](const CopyTarget &, Sink &sink) {
			for (const Change &change : decoded->changes)
				sink.Apply(change);
		});
		rows += count;
		if (count < kCopyFetchRows)
			break;
	}
	const std::string close_sql = "CLOSE mosta_copy";
	co_await sql.Exec(context, close_sql);
	co_return rows;
}

boost::asio::awaitable<void>
CopyInSnapshot(PgConnection &sql, const RulePlan &plan, const std::string &snapshot_name, Lsn consistent_point,
			   const std::vector<CopyTarget> &targets, DecoderOptions options) {
	const std::string begin_sql =
		"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT " + SqlLiteral(sql, snapshot_name);
	co_await sql.Exec("starting the initial copy", begin_sql);
	std::vector<std::string> tables = co_await CopiedTables(sql, plan);
	// the copy is the target's new checkpoint even when the target held a later position (a failover: the new
	// primary's WAL starts behind the old one's)
	co_await ApplyToAll(targets, [&](const CopyTarget &, Sink &sink) {
		sink.Rewind();
		sink.BeginTransaction(consistent_point);
	});
	std::string truncate; // (no co_await inside ?: : GCC 12 destroys its temporary twice)
	if (!tables.empty())
		truncate = co_await TruncateDocument(sql, tables);
	if (!truncate.empty()) {
		ParsedChange document = ParseChange(truncate, options);
		co_await ApplyToAll(targets, [&](const CopyTarget &target, Sink &sink) {
			if (target.truncate)
				sink.Apply(*document);
		});
	}
	long long rows = 0;
	for (const std::string &table : tables)
		rows += co_await CopyTable(sql, table, targets, options);
	co_await ApplyToAll(
		targets, [&](const CopyTarget &, Sink &sink) { sink.CommitTransaction(consistent_point, consistent_point); });
	for (const CopyTarget &target : targets) {
		co_await target.channel->Flush();
		if (target.channel->Failed())
			continue;
		target.channel->Status().snapshot_rows = rows;
		LogLine(target.channel->Label() + ": initial copy of " + std::to_string(tables.size()) + " table(s), " +
				std::to_string(rows) + " row(s), durable at " + FormatLsn(consistent_point));
	}
	const std::string commit_sql = "COMMIT";
	co_await sql.Exec("ending the initial copy", commit_sql);
}

} // namespace mosta::sidecar
