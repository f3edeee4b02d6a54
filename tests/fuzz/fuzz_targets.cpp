#include "tests/fuzz/fuzz_targets.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace synclab::fuzz {

int fuzz_frame(const std::uint8_t*, std::size_t);
int fuzz_hello(const std::uint8_t*, std::size_t);
int fuzz_hello_ack(const std::uint8_t*, std::size_t);
int fuzz_refuse(const std::uint8_t*, std::size_t);
int fuzz_push(const std::uint8_t*, std::size_t);
int fuzz_pull(const std::uint8_t*, std::size_t);
int fuzz_params(const std::uint8_t*, std::size_t);
int fuzz_cancel(const std::uint8_t*, std::size_t);
int fuzz_heartbeat(const std::uint8_t*, std::size_t);
int fuzz_stop(const std::uint8_t*, std::size_t);
int fuzz_bye(const std::uint8_t*, std::size_t);
int fuzz_error(const std::uint8_t*, std::size_t);
int fuzz_report(const std::uint8_t*, std::size_t);
int fuzz_config(const std::uint8_t*, std::size_t);
int fuzz_sweep(const std::uint8_t*, std::size_t);
int fuzz_idx(const std::uint8_t*, std::size_t);

namespace {
constexpr Target kTargets[] = {
    {"frame", fuzz_frame},   {"hello", fuzz_hello},   {"hello_ack", fuzz_hello_ack}, {"refuse", fuzz_refuse},
    {"push", fuzz_push},     {"pull", fuzz_pull},     {"params", fuzz_params},       {"cancel", fuzz_cancel},
    {"heartbeat", fuzz_heartbeat}, {"stop", fuzz_stop}, {"bye", fuzz_bye},           {"error", fuzz_error},
    {"report", fuzz_report}, {"config", fuzz_config}, {"sweep", fuzz_sweep},         {"idx", fuzz_idx},
};
}  // namespace

std::span<const Target> targets() { return kTargets; }

const Target* find_target(const char* name) {
  for (const auto& t : kTargets)
    if (std::strcmp(t.name, name) == 0) return &t;
  return nullptr;
}

void violated(const char* target, const char* what) {
  std::fprintf(stderr, "fuzz target %s: %s\n", target, what);
  std::abort();
}

}  // namespace synclab::fuzz
