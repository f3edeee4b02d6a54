// TensorBoard event files: the CRC against its published check value, the byte layout of one
// record, and a run's event file read back by an independent reader (protoc-generated Python
// classes from the test's own event.proto/summary.proto, its own CRC-32C).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/run/run_writer.hpp"
#include "core/run/tb_events.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

std::string run_command(const std::string& cmd, int& status) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  status = ::pclose(p);
  return out;
}

// A Python with google.protobuf (Debian's python3-protobuf lives under /usr/bin/python3,
// which another python3 on PATH may shadow) and protoc; empty when either is missing.
std::string protobuf_python() {
  int status = 0;
  run_command("protoc --version >/dev/null 2>&1", status);
  if (status != 0) return "";
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    run_command(std::string(py) + " -c 'import google.protobuf' >/dev/null 2>&1", status);
    if (status == 0) return py;
  }
  return "";
}

TEST(TensorBoardEvents, Crc32cMatchesTheCheckValue) {
  // The CRC-32C check value of "123456789" (RFC 3720, appendix B.4 test vectors use the same CRC).
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
}

TEST(TensorBoardEvents, RecordLayout) {
  const std::string data = "abc";
  const auto rec = tfrecord(data);
  ASSERT_EQ(rec.size(), 8u + 4u + 3u + 4u);
  std::uint64_t len = 0;
  std::memcpy(&len, rec.data(), 8);
  EXPECT_EQ(len, 3u);
  std::uint32_t len_crc = 0, data_crc = 0;
  std::memcpy(&len_crc, rec.data() + 8, 4);
  std::memcpy(&data_crc, rec.data() + 15, 4);
  EXPECT_EQ(len_crc, masked_crc32c(rec.substr(0, 8)));
  EXPECT_EQ(data_crc, masked_crc32c(data));
  const std::uint32_t c = crc32c(data);
  EXPECT_EQ(masked_crc32c(data), ((c >> 15) | (c << 17)) + 0xa282ead8u);
  // Event{wall_time: 1.5, step: 7, summary{value{tag: "a", simple_value: 2}}}, byte by byte.
  const auto e = encode_scalar_event(1.5, 7, {{"a", 2.0f}});
  const unsigned char want[] = {0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f,  // wall_time (field 1, fixed64)
                                0x10, 7,                              // step (field 2, varint)
                                0x2a, 10,                             // summary (field 5, 10 bytes)
                                0x0a, 8,                              // value (field 1, 8 bytes)
                                0x0a, 1, 'a',                         // tag (field 1)
                                0x15, 0, 0, 0, 0x40};                 // simple_value (field 2, fixed32)
  ASSERT_EQ(e.size(), sizeof want);
  EXPECT_EQ(std::memcmp(e.data(), want, sizeof want), 0);
}

TEST(TensorBoardEvents, RunEventFileReadsBackWithProtoc) {
  const auto python = protobuf_python();
  if (python.empty()) GTEST_SKIP() << "protoc or python3-protobuf missing (scripts/install-deps.sh with SYNCLAB_TEST_DEPS=1)";
  const auto dir = fs::temp_directory_path() / ("synclab-tb-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const RunConfig config = resolve_run_config(YAML::Load("model: softmax\npolicy: {name: bsp}"));
  {
    RunWriter w(dir, config);
    // Update 1 applies two gradients (bsp, two workers), update 2 one.
    w.update(0.5, 1, 0, 0, 2.0);
    w.update(0.5, 1, 1, 2, 1.0);
    w.update(1.0, 2, 0, 1, 0.5);
    w.eval(1.0, 2, 400, 0.75, 0.625);
    w.update(2.0, 3, 1, 0, 0.25);
    w.eval(2.0, 3, 600, 0.5, 0.875);
    RunSummary s;
    s.backend = "sim";
    s.updates = 3;
    s.samples = 600;
    s.time_s = 2.0;
    w.finish(s);
  }
  int status = 0;
  const auto out = run_command(python + " '" SYNCLAB_TB_READER "' '" + (dir / "events.out.tfevents.synclab").string() + "' 2>&1",
                               status);
  ASSERT_EQ(status, 0) << out;
  std::vector<nlohmann::json> events;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) events.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(events.size(), 7u) << out;
  EXPECT_EQ(events[0]["file_version"], "brain.Event:2");
  // Per update: mean loss and staleness of the gradients it applied.
  EXPECT_EQ(events[1]["step"], 1);
  EXPECT_DOUBLE_EQ(events[1]["wall_time"].get<double>(), 0.5);
  EXPECT_FLOAT_EQ(events[1]["scalars"]["train/loss"].get<float>(), 1.5f);
  EXPECT_FLOAT_EQ(events[1]["scalars"]["train/staleness"].get<float>(), 1.0f);
  EXPECT_EQ(events[2]["step"], 2);
  EXPECT_FLOAT_EQ(events[2]["scalars"]["train/loss"].get<float>(), 0.5f);
  // Evaluations: test loss and accuracy, throughput since the previous evaluation.
  EXPECT_EQ(events[3]["step"], 2);
  EXPECT_FLOAT_EQ(events[3]["scalars"]["test/accuracy"].get<float>(), 0.625f);
  EXPECT_FLOAT_EQ(events[3]["scalars"]["test/loss"].get<float>(), 0.75f);
  EXPECT_FLOAT_EQ(events[3]["scalars"]["throughput/updates_per_s"].get<float>(), 2.0f);
  EXPECT_FLOAT_EQ(events[3]["scalars"]["throughput/samples_per_s"].get<float>(), 400.0f);
  EXPECT_EQ(events[4]["step"], 3);
  EXPECT_FLOAT_EQ(events[4]["scalars"]["train/loss"].get<float>(), 0.25f);
  EXPECT_FLOAT_EQ(events[5]["scalars"]["throughput/samples_per_s"].get<float>(), 200.0f);
  EXPECT_FLOAT_EQ(events[5]["scalars"]["test/accuracy"].get<float>(), 0.875f);
  // The run's mean throughput closes the file.
  EXPECT_FLOAT_EQ(events[6]["scalars"]["throughput/run_updates_per_s"].get<float>(), 1.5f);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace synclab
