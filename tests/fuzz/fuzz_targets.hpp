#pragma once
// Fuzz targets of every decoder of untrusted input: one function per target, shared by the
// libFuzzer executables (scripts/fuzz.sh, clang) and the corpus replay test (any compiler).
// A target returns 0; a bug shows as a crash, a sanitizer report or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <span>

namespace synclab::fuzz {

using TargetFn = int (*)(const std::uint8_t* data, std::size_t size);

struct Target {
  const char* name;  ///< also the folder of its seed corpus under tests/fuzz/corpus/
  TargetFn run;
};

/// Every target, in a fixed order.
std::span<const Target> targets();

/// The target of that name, or nullptr.
const Target* find_target(const char* name);

/// Calls a property violation a bug: prints `what` and aborts (libFuzzer saves the input).
[[noreturn]] void violated(const char* target, const char* what);

}  // namespace synclab::fuzz
