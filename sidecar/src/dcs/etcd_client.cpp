/*
 * etcd_client.cpp
 *     EtcdClient over etcd's JSON gateway (see etcd_client.hpp). Placeholder until the client lands.
 */
#include "dcs/etcd_client.hpp"

namespace mosta::sidecar::dcs {

struct EtcdClient::Impl {
	boost::asio::any_io_executor executor;
	DcsUrl url;
	std::chrono::milliseconds request_timeout;
};

EtcdClient::EtcdClient(boost::asio::any_io_executor executor, DcsUrl url, std::chrono::milliseconds request_timeout)
	: impl_(std::make_unique<Impl>(Impl{std::move(executor), std::move(url), request_timeout})) {}

EtcdClient::~EtcdClient() = default;

std::string
EtcdClient::Key(const std::string &relative) const {
	return impl_->url.prefix + "/" + relative;
}

const DcsUrl &
EtcdClient::Url() const {
	return impl_->url;
}

} // namespace mosta::sidecar::dcs
