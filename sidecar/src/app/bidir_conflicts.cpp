/*
 * bidir_conflicts.cpp
 *     The ConflictHandler of a bidirectional rule's side (see bidir_conflicts.hpp).
 */
#include "app/bidir_conflicts.hpp"

#include <memory>
#include <utility>

#include "app/log.hpp"
#include "mosta/common/canonical_row.hpp"
#include "pg/errors.hpp"
#include "pg/handles.hpp"

namespace mosta::sidecar {

namespace {

// JsonOrNull returns text (JSON already) or null when it is empty.
std::string
JsonOrNull(const std::string &json) {
	return json.empty() ? std::string("null") : json;
}

// QuotedOrNull returns text as a JSON string, or null when it is empty.
std::string
QuotedOrNull(const std::string &text) {
	return text.empty() ? std::string("null") : JsonQuote(text);
}

// ConflictRecorder holds one side's connection to the source and its names.
class ConflictRecorder {
  public:
	ConflictRecorder(std::string source, std::string rule, std::string replica, ConflictPolicy policy)
		: source_(std::move(source)), rule_(std::move(rule)), replica_(std::move(replica)), policy_(policy) {}

	Resolution
	Decide(const ConflictRecord &conflict) {
		Resolution decision = DecideConflict(policy_, conflict);
		bool recorded = Record(ConflictJson(conflict, decision));
		LogLine("rule " + rule_ + ", replica " + replica_ + ": " + DescribeConflict(conflict) + ": " +
				std::string(ResolutionName(decision)) + " (" + std::string(ConflictPolicyName(policy_)) +
				(recorded ? ")" : ", recorded already: a replayed transaction)"));
		return decision;
	}

  private:
	// Record calls mosta._record_conflict; true when the conflict was new.
	bool
	Record(const std::string &json) {
		const char *context = "recording a conflict in mosta.conflicts";
		if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
			conn_.reset(PQconnectdb(source_.c_str()));
			if (PQstatus(conn_.get()) != CONNECTION_OK) {
				PgError error = PgError::FromConn(context, conn_.get());
				conn_.reset();
				throw error;
			}
		}
		const char *params[] = {rule_.c_str(), replica_.c_str(), json.c_str()};
		PgResultHandle result(PQexecParams(conn_.get(), "SELECT mosta._record_conflict($1, $2, $3::jsonb)", 3, nullptr,
										   params, nullptr, nullptr, 0));
		if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
			PgError error = PgError::FromResult(context, result.get(), conn_.get());
			conn_.reset(); // a broken connection is opened again at the next conflict
			throw error;
		}
		return PQntuples(result.get()) == 1 && PQgetvalue(result.get(), 0, 0)[0] == 't';
	}

	std::string source_;
	std::string rule_;
	std::string replica_;
	ConflictPolicy policy_;
	PgConnHandle conn_;
};

} // namespace

std::string
ConflictJson(const ConflictRecord &conflict, Resolution decision) {
	std::string json = "{\"kind\":" + JsonQuote(ConflictKindName(conflict.kind));
	json += ",\"incoming_side\":" + JsonQuote(SideName(conflict.incoming_side));
	json += ",\"schema\":" + JsonQuote(conflict.schema);
	json += ",\"table\":" + JsonQuote(conflict.table);
	json += ",\"key\":" + JsonOrNull(conflict.key_json);
	json += ",\"local\":" + JsonOrNull(conflict.local_json);
	json += ",\"incoming\":" + JsonOrNull(conflict.incoming_json);
	json += ",\"local_time\":" + QuotedOrNull(conflict.local_time);
	json += ",\"incoming_time\":" + QuotedOrNull(conflict.incoming_time);
	json += ",\"incoming_lsn\":" + (conflict.incoming_commit_lsn == kInvalidLsn
										? std::string("null")
										: JsonQuote(FormatLsn(conflict.incoming_commit_lsn)));
	json += ",\"change_index\":" + std::to_string(conflict.change_index);
	json += ",\"decision\":" + JsonQuote(ResolutionName(decision)) + "}";
	return json;
}

ConflictHandler
MakeConflictHandler(std::string source, std::string rule, std::string replica, ConflictPolicy policy) {
	auto recorder = std::make_shared<ConflictRecorder>(std::move(source), std::move(rule), std::move(replica), policy);
	return [recorder](const ConflictRecord &conflict) { return recorder->Decide(conflict); };
}

} // namespace mosta::sidecar
