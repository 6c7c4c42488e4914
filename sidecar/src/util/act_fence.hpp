/*
 * act_fence.hpp
 *     The process's permission to make target writes durable, for a daemon run with --dcs (app/rule_leases.hpp):
 *     a sidecar may commit into its targets only until the fence deadline of its last successful lease keep-alive
 *     (dcs/dcs_timing.hpp), because past it another sidecar may have taken its rules. The supervisor stops the
 *     rules at the deadline, but a worker thread may hold a batch (a process frozen by SIGSTOP and resumed, a
 *     stall): SinkCore checks this fence before each durable commit, so such a batch is rolled back, not written
 *     after the new holder's (it would double the archive's lines or put old rows back). Without --dcs the fence
 *     is always open. Lock-free: read by the sinks' worker threads, written by the io thread.
 */
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace mosta::sidecar {

// Fenced is the error of a durable commit refused because the fence is closed.
class Fenced : public std::runtime_error {
  public:
	using std::runtime_error::runtime_error;
};

// BootTimeNow reads CLOCK_BOOTTIME (it goes on while the machine sleeps, as the DCS's clock does).
std::chrono::nanoseconds BootTimeNow() noexcept;

// AllowActingUntil opens the fence until deadline (CLOCK_BOOTTIME).
void AllowActingUntil(std::chrono::nanoseconds deadline) noexcept;

// RevokeActing closes the fence until the next AllowActingUntil.
void RevokeActing() noexcept;

// MayAct tells whether a durable commit may happen now.
bool MayAct() noexcept;

// ThrowIfFenced throws Fenced naming what when the fence is closed.
void ThrowIfFenced(const std::string &what);

} // namespace mosta::sidecar
