#pragma once
// TensorBoard event files without TensorFlow: TFRecord framing around hand-encoded protobuf
// Event messages that carry scalar summaries (docs/experiments.md "TensorBoard export").
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synclab {

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of the bytes.
std::uint32_t crc32c(std::string_view data);

/// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
std::uint32_t masked_crc32c(std::string_view data);

/// One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data (all
/// little-endian).
std::string tfrecord(std::string_view data);

/// Serialized Event{wall_time, step, file_version} (the first record of every event file).
std::string encode_version_event(double wall_time, const std::string& file_version);

/// Serialized Event{wall_time, step, summary{value{tag, simple_value}...}}.
std::string encode_scalar_event(double wall_time, std::int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars);

/// Appends scalar events to a TensorBoard event file (first record: "brain.Event:2").
class EventFileWriter {
 public:
  /// Creates (truncates) the file; Error naming it when it cannot.
  explicit EventFileWriter(const std::filesystem::path& path);
  /// One Event holding the given tag -> value pairs at this step.
  void scalars(double wall_time, std::int64_t step, const std::vector<std::pair<std::string, float>>& values);
  /// Pushes buffered records to the file.
  void flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace synclab
