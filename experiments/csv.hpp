#pragma once
// Minimal CSV reading and writing (RFC 4180 quoting) for index.csv and the run CSVs.
#include <filesystem>
#include <string>
#include <vector>

namespace synclab::experiments {

/// A parsed CSV file: header names and rows of fields (all as text).
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  /// Column index of name, or -1 when absent.
  int column(const std::string& name) const;
};

/// Reads path; throws Error naming the file when it cannot be opened.
CsvTable read_csv(const std::filesystem::path& path);

/// Parses one line into fields (quotes honoured; a quoted field may not span lines).
std::vector<std::string> split_csv_line(const std::string& line);

/// Quotes a field when it holds a comma, quote or newline.
std::string csv_field(const std::string& text);

/// Joins fields into one CSV line (no trailing newline).
std::string csv_line(const std::vector<std::string>& fields);

/// Whole file as a string; throws Error naming the file when unreadable.
std::string read_text(const std::filesystem::path& path);

}  // namespace synclab::experiments
