/*
 * dcs_client_probe.cpp
 *     One EtcdClient call per run, its result as one JSON line on stdout, for the integration scripts
 *     (test/integration/dcs_client.sh and the HA tests):
 *
 *       dcs_client_probe [--timeout MS] etcd://h:p,.../prefix COMMAND ARGS...
 *         grant TTL_S                   {"lease": ID, "ttl": N}
 *         keepalive LEASE               {"alive": bool, "ttl": N}
 *         ttl LEASE                     {"ttl": N | null}
 *         revoke LEASE                  {}
 *         get KEY                       {"kv": KV | null}
 *         prefix PREFIX                 {"kvs": [KV...]}
 *         put KEY VALUE [LEASE]         {}
 *         delete KEY                    {}
 *         create KEY VALUE [LEASE]      {"ok": bool}
 *         cas KEY EXPECTED VALUE [LEASE] {"ok": bool}
 *         cad KEY EXPECTED              {"ok": bool}
 *     KV = {"key", "value", "lease", "create_revision", "mod_revision", "version"}; every answer also holds
 *     "endpoint" (the member that answered). Keys are full keys. Exit 0; 2 bad usage; 3 DcsUnavailable; 4 DcsError
 *     (the message on stderr).
 */
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "dcs/etcd_client.hpp"
#include "mosta/common/canonical_row.hpp"

namespace asio = boost::asio;
namespace dcs = mosta::sidecar::dcs;
using mosta::JsonQuote;

namespace {

std::string
KvJson(const dcs::KeyValue &kv) {
	return "{\"key\":" + JsonQuote(kv.key) + ",\"value\":" + JsonQuote(kv.value) +
		   ",\"lease\":" + std::to_string(kv.lease) + ",\"create_revision\":" + std::to_string(kv.create_revision) +
		   ",\"mod_revision\":" + std::to_string(kv.mod_revision) + ",\"version\":" + std::to_string(kv.version) + "}";
}

std::int64_t
LeaseArg(const std::vector<std::string> &args, std::size_t index) {
	return args.size() > index ? std::stoll(args[index]) : 0;
}

// Run performs the command in args (args[0]) and returns the answer's fields (without braces).
asio::awaitable<std::string>
Run(dcs::EtcdClient &client, const std::vector<std::string> &args) {
	const std::string &command = args.at(0);
	auto arg = [&args](std::size_t index) -> const std::string & {
		if (index >= args.size())
			throw std::invalid_argument("missing argument");
		return args[index];
	};
	if (command == "grant") {
		auto [lease, ttl] = co_await client.GrantLease(std::chrono::seconds(std::stoll(arg(1))));
		co_return "\"lease\":" + std::to_string(lease) + ",\"ttl\":" + std::to_string(ttl);
	}
	if (command == "keepalive") {
		dcs::LeaseState state = co_await client.KeepAlive(std::stoll(arg(1)));
		co_return std::string("\"alive\":") + (state.alive ? "true" : "false") +
			",\"ttl\":" + std::to_string(state.ttl_seconds);
	}
	if (command == "ttl") {
		std::optional<std::int64_t> ttl = co_await client.TimeToLive(std::stoll(arg(1)));
		co_return "\"ttl\":" + (ttl ? std::to_string(*ttl) : std::string("null"));
	}
	if (command == "revoke") {
		co_await client.Revoke(std::stoll(arg(1)));
		co_return std::string();
	}
	if (command == "get") {
		std::optional<dcs::KeyValue> kv = co_await client.Get(arg(1));
		co_return "\"kv\":" + (kv ? KvJson(*kv) : std::string("null"));
	}
	if (command == "prefix") {
		std::vector<dcs::KeyValue> kvs = co_await client.GetPrefix(arg(1));
		std::string out = "\"kvs\":[";
		for (std::size_t i = 0; i < kvs.size(); ++i)
			out += (i > 0 ? "," : "") + KvJson(kvs[i]);
		co_return out + "]";
	}
	if (command == "put") {
		co_await client.Put(arg(1), arg(2), LeaseArg(args, 3));
		co_return std::string();
	}
	if (command == "delete") {
		co_await client.Delete(arg(1));
		co_return std::string();
	}
	bool ok = false;
	if (command == "create")
		ok = co_await client.Create(arg(1), arg(2), LeaseArg(args, 3));
	else if (command == "cas")
		ok = co_await client.CompareAndPut(arg(1), arg(2), arg(3), LeaseArg(args, 4));
	else if (command == "cad")
		ok = co_await client.CompareAndDelete(arg(1), arg(2));
	else
		throw std::invalid_argument("unknown command " + command);
	co_return std::string("\"ok\":") + (ok ? "true" : "false");
}

} // namespace

int
main(int argc, char **argv) {
	std::vector<std::string> args(argv + 1, argv + argc);
	std::chrono::milliseconds timeout(1'000);
	if (args.size() >= 2 && args[0] == "--timeout") {
		timeout = std::chrono::milliseconds(std::stoll(args[1]));
		args.erase(args.begin(), args.begin() + 2);
	}
	if (args.size() < 2) {
		std::fputs("usage: dcs_client_probe [--timeout MS] etcd://h:p,.../prefix COMMAND ARGS...\n", stderr);
		return 2;
	}
	int status = 0;
	try {
		asio::io_context context;
		dcs::EtcdClient client(context.get_executor(), dcs::ParseDcsUrl(args[0]), timeout);
		std::vector<std::string> command(args.begin() + 1, args.end());
		std::string fields;
		std::exception_ptr error;
		asio::co_spawn(context, Run(client, command), [&](std::exception_ptr e, std::string result) {
			error = e;
			fields = std::move(result);
		});
		context.run();
		if (error)
			std::rethrow_exception(error);
		std::cout << "{\"endpoint\":" << JsonQuote(client.Endpoint()) << (fields.empty() ? "" : ",") << fields << "}\n";
	} catch (const dcs::DcsUnavailable &e) {
		std::fprintf(stderr, "dcs_client_probe: %s\n", e.what());
		status = 3;
	} catch (const dcs::DcsError &e) {
		std::fprintf(stderr, "dcs_client_probe: %s\n", e.what());
		status = 4;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "dcs_client_probe: %s\n", e.what());
		status = 2;
	}
	return status;
}
