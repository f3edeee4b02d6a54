#include "app/logging.hpp"

#include <utility>

#include <spdlog/sinks/stdout_color_sinks.h>

#include "core/common/error.hpp"

namespace synclab::app {

spdlog::level::level_enum parse_log_level(const std::string& text) {
  static const std::pair<const char*, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"warning", spdlog::level::warn}, {"error", spdlog::level::err},
      {"off", spdlog::level::off}};
  for (const auto& [name, level] : kLevels)
    if (text == name) return level;
  throw ConfigError("--log-level", "'" + text + "' is not one of trace, debug, info, warn, error, off");
}

void init_logging(spdlog::level::level_enum level) {
  auto logger = spdlog::stderr_color_mt("synclab");
  logger->set_pattern("[%H:%M:%S.%e] %^%l%$: %v");
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
}

LogStream::LogStream() : std::ostream(&buf_) {}

LogStream::~LogStream() { buf_.flush_rest(); }

void LogStream::Buf::flush_rest() {
  if (!line_.empty()) spdlog::info("{}", line_);
  line_.clear();
}

LogStream::Buf::int_type LogStream::Buf::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  const char ch = traits_type::to_char_type(c);
  if (ch == '\n') {
    if (!line_.empty()) spdlog::info("{}", line_);
    line_.clear();
  } else if (ch != '\r') {
    line_.push_back(ch);
  }
  return c;
}

std::streamsize LogStream::Buf::xsputn(const char* s, std::streamsize n) {
  for (std::streamsize i = 0; i < n; ++i) overflow(traits_type::to_int_type(s[i]));
  return n;
}

}  // namespace synclab::app
