/*
 * dcs_status.cpp
 *     mosta-sidecar dcs-status (see dcs_status.hpp): one linearizable read of the whole prefix, then one
 *     time-to-live per leader key's lease.
 */
#include "dcs/dcs_status.hpp"

#include <cstdio>
#include <exception>

#include <boost/asio/co_spawn.hpp>

#include "mosta/common/canonical_row.hpp"
#include "util/json_text.hpp"

namespace mosta::sidecar::dcs {

namespace asio = boost::asio;

namespace {

struct LeaderView {
	std::string node;
	std::int64_t lease = 0;
};

struct ProjectView {
	std::optional<LeaderView> leader;
	std::map<std::string, std::string> members; // NODE → JSON text
	std::optional<std::string> sync;			// JSON text
	std::optional<std::string> status;			// JSON text
};

struct StatusView {
	std::map<std::string, ProjectView> projects;
	std::map<std::string, LeaderView> rules; // RULE → owner and its lease
	std::map<std::string, std::string> sidecars;
};

// StoredJson returns a value stored as JSON compactly, or, when it is not JSON, as a JSON string.
std::string
StoredJson(const std::string &text) {
	try {
		JsonParse parse(text);
		std::string out;
		AppendCompactJson(parse.Document().get_value().value(), out);
		parse.ExpectEnd();
		return out;
	} catch (const simdjson::simdjson_error &) {
		return JsonQuote(text);
	}
}

// Place files kv (its key relative to the prefix) into view; other keys are left out.
void
Place(StatusView &view, const std::string &relative, const KeyValue &kv) {
	auto starts = [&relative](const std::string &head) { return relative.rfind(head, 0) == 0; };
	if (starts("rules/") && relative.size() > 6) {
		view.rules[relative.substr(6)] = LeaderView{kv.value, kv.lease};
		return;
	}
	if (starts("sidecars/") && relative.size() > 9) {
		view.sidecars[relative.substr(9)] = StoredJson(kv.value);
		return;
	}
	if (!starts("projects/"))
		return;
	std::string rest = relative.substr(9);
	std::size_t slash = rest.find('/');
	if (slash == 0 || slash == std::string::npos)
		return;
	std::string project = rest.substr(0, slash);
	std::string what = rest.substr(slash + 1);
	if (what == "leader")
		view.projects[project].leader = LeaderView{kv.value, kv.lease};
	else if (what == "sync")
		view.projects[project].sync = StoredJson(kv.value);
	else if (what == "status")
		view.projects[project].status = StoredJson(kv.value);
	else if (what.rfind("members/", 0) == 0 && what.size() > 8)
		view.projects[project].members[what.substr(8)] = StoredJson(kv.value);
}

// JsonObject writes entries as {"name": text(value), ...}.
template <typename Map, typename Text>
std::string
JsonObject(const Map &entries, Text text) {
	std::string out = "{";
	for (const auto &[name, value] : entries) {
		if (out.size() > 1)
			out += ',';
		AppendJsonQuoted(out, name);
		out += ':';
		out += text(value);
	}
	return out + "}";
}

asio::awaitable<std::string>
ReadStatus(EtcdClient &client) {
	const std::string &prefix = client.Url().prefix;
	std::vector<KeyValue> kvs = co_await client.GetPrefix(prefix + "/");
	std::string endpoint = client.Endpoint();
	std::map<std::int64_t, std::optional<std::int64_t>> lease_ttls;
	const std::string leader_suffix = "/leader";
	for (const KeyValue &kv : kvs) {
		bool leader = kv.key.size() > leader_suffix.size() &&
					  kv.key.compare(kv.key.size() - leader_suffix.size(), leader_suffix.size(), leader_suffix) == 0;
		if (leader && kv.lease != 0 && !lease_ttls.contains(kv.lease))
			lease_ttls[kv.lease] = co_await client.TimeToLive(kv.lease);
	}
	co_return DcsStatusJson(prefix, endpoint, kvs, lease_ttls);
}

} // namespace

std::string
DcsStatusJson(const std::string &prefix, const std::string &endpoint, const std::vector<KeyValue> &kvs,
			  const std::map<std::int64_t, std::optional<std::int64_t>> &lease_ttls) {
	StatusView view;
	for (const KeyValue &kv : kvs)
		if (kv.key.rfind(prefix + "/", 0) == 0)
			Place(view, kv.key.substr(prefix.size() + 1), kv);
	auto optional_json = [](const std::optional<std::string> &text) { return text ? *text : std::string("null"); };
	auto project_json = [&](const ProjectView &project) {
		std::string leader = "null";
		if (project.leader) {
			auto ttl = lease_ttls.find(project.leader->lease);
			leader = "{\"node\":" + JsonQuote(project.leader->node) +
					 ",\"lease\":" + std::to_string(project.leader->lease) + ",\"ttl_remaining_s\":" +
					 (ttl != lease_ttls.end() && ttl->second ? std::to_string(*ttl->second) : std::string("null")) +
					 "}";
		}
		return "{\"leader\":" + leader +
			   ",\"members\":" + JsonObject(project.members, [](const std::string &json) { return json; }) +
			   ",\"sync\":" + optional_json(project.sync) + ",\"status\":" + optional_json(project.status) + "}";
	};
	auto rule_json = [](const LeaderView &rule) {
		return "{\"owner\":" + JsonQuote(rule.node) + ",\"lease\":" + std::to_string(rule.lease) + "}";
	};
	return "{\"endpoint\":" + JsonQuote(endpoint) + ",\"projects\":" + JsonObject(view.projects, project_json) +
		   ",\"rules\":" + JsonObject(view.rules, rule_json) +
		   ",\"sidecars\":" + JsonObject(view.sidecars, [](const std::string &json) { return json; }) + "}";
}

int
RunDcsStatus(boost::asio::io_context &context, const Config &config) {
	EtcdClient client(context.get_executor(), ParseDcsUrl(config.dcs));
	std::string document;
	std::exception_ptr error;
	asio::co_spawn(context, ReadStatus(client), [&](std::exception_ptr e, std::string text) {
		error = e;
		document = std::move(text);
	});
	context.run();
	try {
		if (error)
			std::rethrow_exception(error);
	} catch (const DcsUnavailable &e) {
		std::fprintf(stderr, "mosta-sidecar dcs-status: %s\n", e.what());
		return 1;
	} catch (const DcsError &e) {
		std::fprintf(stderr, "mosta-sidecar dcs-status: %s\n", e.what());
		return 1;
	}
	std::fputs((document + "\n").c_str(), stdout);
	return 0;
}

} // namespace mosta::sidecar::dcs
