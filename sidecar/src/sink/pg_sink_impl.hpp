/*
 * pg_sink_impl.hpp
 *     PgSink::Impl, shared by the sink's files: pg_sink.cpp (connection, origin, transactions, DDL, truncate),
 *     pg_apply.cpp (bulk apply: runs of row changes through COPY and staging tables), pg_conflict.cpp (conflict
 *     mode: row by row, detected against the row the target holds).
 */
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sink/pg_row_text.hpp"
#include "sink/pg_session.hpp"
#include "sink/pg_sink.hpp"
#include "sink/pg_target_table.hpp"

namespace mosta::sidecar {

// What a pending run of row changes does.
enum class PgRunOp { None, Insert, Update, Delete };

// A run: consecutive row changes of one source transaction to one table, of one op and one column set, applied
// by one statement (COPY for inserts; COPY into a staging table then UPDATE ... FROM / DELETE ... USING).
struct PgRun {
	PgRunOp op = PgRunOp::None;
	const PgTargetTable *table = nullptr;
	std::vector<std::string> key;	  // update, delete: the key columns (matched against the old key)
	std::vector<std::string> columns; // insert: the columns copied; update: the columns set
	std::string data;				  // COPY text: insert: the rows; update: key values then new values; delete: keys
	std::unordered_set<std::string> keys; // the key texts in the run (a repeated key splits it)
	std::size_t rows = 0;
};

struct PgSink::Impl {
	explicit Impl(PgSinkOptions sink_options);

	PgSinkOptions options;
	std::string sink_name; // "postgres:<masked uri>"
	std::unique_ptr<PgSession> session;
	bool commit_timestamps = false; // track_commit_timestamp is on in the target (conflicts' local_time)

	// Transactions: one target transaction per source transaction, opened at its first change.
	Lsn applied_end = kInvalidLsn; // end LSN of the last source transaction committed in the target
	Lsn commit_lsn = kInvalidLsn;  // of the open source transaction
	bool skipping = false;		   // the open source transaction was committed before: ignore it
	bool in_transaction = false;   // a target transaction is open
	bool committed_in_group = false;
	std::string commit_time; // the open source transaction's (NoteCommitTime), "" when unknown
	int change_index = 0;	 // the next change's index in the open source transaction

	std::unordered_map<std::string, PgTargetTable> tables; // by schema '\0' table
	PgValueWriter writer;
	PgRun run;
	std::unordered_map<std::string, std::string> staging; // staging table by column list
	std::string text;									  // scratch

	// Connect opens the session, sets it up (settings, synchronous_commit off, the origin) and reads the
	// origin's progress into applied_end.
	void Connect();

	// SetUpOrigin makes the session's origin options.origin, waiting (boundedly) for a previous session's backend
	// to release it.
	void SetUpOrigin();

	// Begin opens the target transaction of the open source transaction when none is.
	void Begin();

	// Table returns the target's table of schema.table, loaded or (relation given) created; null when the
	// target has none and none is to be created.
	PgTargetTable *Table(const std::string &schema, const std::string &table, const RelationSchema *relation);

	// ForgetTables drops cached tables and staging tables (after a rollback or DDL).
	void ForgetTables() noexcept;

	// Bulk apply (pg_apply.cpp).
	void ApplyBulk(const Change &change);
	void FlushRun();
	// FlushRunKeepingShape applies the run so far and starts an empty one of the same shape (a run grown large).
	void FlushRunKeepingShape();

	// Conflict mode (pg_conflict.cpp).
	void ApplyChecked(const Change &change, int index);

	// Both: row changes' texts.
	// KeyOf returns the key columns used for change (the relation's key; none for a keyless table).
	static const std::vector<std::string> &KeyOf(const Change &change) noexcept;
};

// A statement's text parameters, each cast to its column's type in the SQL.
class Params {
  public:
	// Add appends column's value and returns "$n::type".
	std::string
	Add(PgValueWriter &writer, const Column &column, const std::string &type) {
		texts_.emplace_back();
		nulls_.push_back(!writer.AppendText(texts_.back(), column));
		std::string placeholder = "$"; // built by appends: "$" + std::to_string(...) trips GCC 12's -Wrestrict
		placeholder += std::to_string(texts_.size());
		placeholder += "::";
		placeholder += type;
		return placeholder;
	}

	// Values returns the parameters for PQexecParams.
	std::vector<const char *>
	Values() const {
		std::vector<const char *> values;
		values.reserve(texts_.size());
		for (std::size_t i = 0; i < texts_.size(); ++i)
			values.push_back(nulls_[i] ? nullptr : texts_[i].c_str());
		return values;
	}

  private:
	std::vector<std::string> texts_;
	std::vector<bool> nulls_;
};

// TypeIn returns column's type in table, throwing when the target lacks the column.
std::string TypeIn(const PgTargetTable &table, std::string_view column);

// ColumnList returns "a", "b", ... .
std::string ColumnList(const std::vector<std::string> &names);

// OldKey returns, for each key column, its value in "old" when there, else in "new"; sets moved when an old
// value differs from the new one; throws (ThrowMissingOld) when a key column is in neither.
std::vector<const Column *> OldKey(const Change &change, const std::vector<std::string> &key, bool &moved);

// Affected returns the row count of a command's result.
long Affected(const PGresult *result);

// ThrowMissingOld reports an update or delete that needs "old" and has none, naming the table and the fix.
[[noreturn]] void ThrowMissingOld(const Change &change);

// FindColumn returns the column called name in row, or null.
const Column *FindColumn(const std::vector<Column> &row, std::string_view name) noexcept;

} // namespace mosta::sidecar
