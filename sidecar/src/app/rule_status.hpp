/*
 * rule_status.hpp
 *     The status of a rule's targets as the daemon publishes it: RuleProgress (kept by the supervisor across runs),
 *     the per-target rows with the rule's slot state (retained WAL, warnings) and the loud events (log line,
 *     target warning, mosta.activity row).
 */
#pragma once

#include <map>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "app/catalog.hpp"
#include "app/config.hpp"
#include "app/target_channel.hpp"
#include "pg/connection.hpp"

namespace mosta::sidecar {

// The status of every target of one rule, kept by the supervisor across runs of the rule.
struct RuleProgress {
	// Keyed by (project, replica); std::map keeps references stable while entries are added.
	std::map<std::pair<std::string, std::string>, TargetStatus> targets;

	// Aggregate returns AggregateRuleStatus over the targets.
	RuleStatus Aggregate() const;
};

// ProgressEntry returns the entry of target in progress, creating it (with the rule's slot) when missing.
TargetStatus &ProgressEntry(RuleProgress &progress, const RulePlan &plan, const ReplicaInfo &target);

// LoadCounters starts status's counters from the catalog's target_status row, the first time only.
boost::asio::awaitable<void> LoadCounters(PgConnection &sql, const std::string &rule, TargetStatus &status);

// PublishStatus updates channel's status from slot (the rule's slot as just read: retained WAL, wal_status,
// warnings) and writes its rows with the rule's aggregate.
boost::asio::awaitable<void> PublishStatus(PgConnection &sql, const Config &config, const std::string &rule,
										   const RuleProgress &progress, TargetChannel &channel, const SlotState &slot);

// Warn records a loud event of channel's target: log line, target warning, and a mosta.activity row (action,
// with the target and slot in its detail; best effort).
boost::asio::awaitable<void> Warn(PgConnection &sql, const std::string &rule, TargetChannel &channel,
								  const std::string &action, const std::string &text);

} // namespace mosta::sidecar
