/*
 * metrics.hpp
 *     /metrics: the Prometheus text exposition format 0.0.4 of the state (docs/monitor.md lists the metrics).
 *     Label values are escaped (\\, \", \n); a value the topology does not report is left out, not written as 0.
 */
#pragma once

#include <string>
#include <string_view>

#include "state.hpp"

namespace mosta::monitor {

// kMetricsContentType is /metrics' Content-Type.
inline constexpr const char *kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// EscapeLabelValue returns value escaped for a label value inside double quotes.
std::string EscapeLabelValue(std::string_view value);

// RenderMetrics returns the metrics of state at now.
std::string RenderMetrics(const MonitorState &state, double now);

} // namespace mosta::monitor
