#include "real/ps/trace_recorder.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/common/error.hpp"

namespace synclab::real {

TraceRecorder::TraceRecorder(const std::filesystem::path& file) : file_(file) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  out_.open(file, std::ios::trunc);
  if (!out_) throw Error(fmt::format("{}: cannot create the trace file (real.trace)", file.string()));
  out_ << kServerTraceHeader << '\n';
}

TraceRecorder::~TraceRecorder() { out_.flush(); }

// A failed write (disk full) must not cost the job: the trace says where it broke off
// (replay then fails at that point) and the log says why, once.
void TraceRecorder::record(const TraceEvent& event) {
  if (broken_) return;
  out_ << format_trace_event(event) << '\n';
  if (!out_) {
    broken_ = true;
    spdlog::error("{}: cannot write the trace file (real.trace); tracing stops here", file_.string());
  }
}

void TraceRecorder::flush() { out_.flush(); }

}  // namespace synclab::real
