#pragma once
// The one logger of every synclab command: spdlog's default logger, writing to stderr
// (stdout stays for results: run directories, report paths, listings).
#include <ostream>
#include <streambuf>
#include <string>

#include <spdlog/spdlog.h>

namespace synclab::app {

/// "trace" | "debug" | "info" | "warn" | "error" | "off" -> level; ConfigError naming
/// --log-level otherwise.
spdlog::level::level_enum parse_log_level(const std::string& text);

/// Makes a stderr logger the default one, at `level`, with a time stamp on every line.
void init_logging(spdlog::level::level_enum level);

/// An ostream whose every complete line becomes one info message of the default logger:
/// the progress streams of the simulator and the training loop go through it.
class LogStream : public std::ostream {
 public:
  LogStream();
  ~LogStream() override;

 private:
  class Buf : public std::streambuf {
   public:
    void flush_rest();  ///< logs a last line that has no newline

   protected:
    int_type overflow(int_type c) override;                    ///< one character; a newline logs the line
    std::streamsize xsputn(const char* s, std::streamsize n) override;  ///< many characters

   private:
    std::string line_;
  };
  Buf buf_;
};

}  // namespace synclab::app
