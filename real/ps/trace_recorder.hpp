#pragma once
// real.trace: one shard's events in the order its ServerCore saw them, each with the
// version it left (policies/server_trace.hpp), so InprocDriver::replay can feed them back.
#include <filesystem>
#include <fstream>

#include "policies/server_trace.hpp"

namespace synclab::real {

class TraceRecorder {
 public:
  /// Creates (truncates) `file` and writes the header; throws Error when it cannot.
  explicit TraceRecorder(const std::filesystem::path& file);
  ~TraceRecorder();
  TraceRecorder(const TraceRecorder&) = delete;
  TraceRecorder& operator=(const TraceRecorder&) = delete;

  /// Appends one event; after a failed write it logs once and records nothing more.
  void record(const TraceEvent& event);
  /// Flushes the file (before a checkpoint: a checkpoint never lists events the trace lacks).
  void flush();

 private:
  std::filesystem::path file_;
  std::ofstream out_;
  bool broken_ = false;
};

}  // namespace synclab::real
