// Checkpoint files: atomic write, newest valid one wins, corrupt or truncated ones skipped;
// checkpoints and final parameter files read back by the documented Python reader.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/error.hpp"
#include "policies/registry.hpp"
#include "policies/server_core.hpp"
#include "real/checkpoint/checkpoint_store.hpp"
#include "real/ps/shard_files.hpp"

namespace synclab::real {
namespace {

std::filesystem::path fresh_dir() {
  auto d = std::filesystem::temp_directory_path() / ("synclab-ckpt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

TEST(CheckpointStore, NewestValidWinsAndOldOnesArePruned) {
  const auto dir = fresh_dir();
  CheckpointStore store(dir, 0, 2);
  EXPECT_FALSE(store.load_newest());
  store.write(10, {1, 2, 3});
  store.write(20, {4, 5});
  store.write(30, {6});
  auto l = store.load_newest();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->sequence, 30u);
  EXPECT_EQ(l->bytes, std::vector<std::uint8_t>({6}));
  int files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 2);
  std::filesystem::remove_all(dir);
}

TEST(CheckpointStore, CorruptNewestFallsBackToPrevious) {
  const auto dir = fresh_dir();
  CheckpointStore store(dir, 1, 3);
  store.write(1, std::vector<std::uint8_t>(1000, 7));
  const auto newest = store.write(2, std::vector<std::uint8_t>(1000, 9));
  {
    std::fstream f(newest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(500);
    f.put(0);
  }
  std::vector<std::string> skipped;
  auto l = store.load_newest(&skipped);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->sequence, 1u);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("checksum"), std::string::npos);
  std::filesystem::resize_file(l->file, 100);  // truncated too: nothing valid is left
  EXPECT_FALSE(store.load_newest());
  std::filesystem::remove_all(dir);
}

TEST(CheckpointStore, ShardsDoNotSeeEachOther) {
  const auto dir = fresh_dir();
  CheckpointStore(dir, 0).write(5, {1});
  EXPECT_FALSE(CheckpointStore(dir, 1).load_newest());
  std::filesystem::remove_all(dir);
}

TEST(CheckpointStore, CheckNamesWhatIsWrongWithAFile) {
  const auto dir = fresh_dir();
  CheckpointStore store(dir, 0);
  const auto good = store.write(3, std::vector<std::uint8_t>(100, 1));
  EXPECT_EQ(CheckpointStore::check(good), "");
  std::filesystem::resize_file(good, 50);
  EXPECT_NE(CheckpointStore::check(good).find("length"), std::string::npos);
  EXPECT_NE(CheckpointStore::check(dir / "missing.ckpt"), "");
  EXPECT_EQ(store.files(), std::vector<std::filesystem::path>{good});
  std::filesystem::remove_all(dir);
}

// A writer killed mid-write leaves its temporary; the next write of the shard removes it
// (another shard's temporaries are not ours to touch).
TEST(CheckpointStore, WriteRemovesTemporariesOfAKilledWriter) {
  const auto dir = fresh_dir();
  std::filesystem::create_directories(dir);
  std::ofstream(dir / ".shard-0-000000000007.ckpt.tmp") << "half";
  std::ofstream(dir / ".shard-1-000000000007.ckpt.tmp") << "other shard";
  CheckpointStore(dir, 0).write(8, {1, 2});
  EXPECT_FALSE(std::filesystem::exists(dir / ".shard-0-000000000007.ckpt.tmp"));
  EXPECT_TRUE(std::filesystem::exists(dir / ".shard-1-000000000007.ckpt.tmp"));
  std::filesystem::remove_all(dir);
}

// A write the file system refuses (here a file-size limit, as a full disk would) throws
// with the file's name and the system's reason, and leaves the previous checkpoint intact.
TEST(CheckpointStore, RefusedWriteNamesTheFileAndKeepsThePrevious) {
  const auto dir = fresh_dir();
  CheckpointStore store(dir, 0);
  store.write(1, std::vector<std::uint8_t>(1000, 4));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string what;
  try {
    store.write(2, std::vector<std::uint8_t>(100000, 5));
  } catch (const Error& e) {
    what = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_NE(what.find((dir / "shard-0-000000000002.ckpt").string() + ": cannot write: File too large"), std::string::npos) << what;
  auto l = store.load_newest();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->sequence, 1u);
  EXPECT_EQ(store.files().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir / ".shard-0-000000000002.ckpt.tmp"));
  std::filesystem::remove_all(dir);
}

// docs/formats.md: scripts/read_binary.py reads both files with the standard library only.
TEST(BinaryFormats, PythonReaderReadsCheckpointsAndParams) {
  if (std::system("python3 -c pass >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 missing (SYNCLAB_TEST_DEPS=1)";
  const auto dir = fresh_dir();
  const std::vector<float> initial = {0.5f, -1.25f, 2.0f, 3.5f, -0.75f};
  ServerCoreOptions o;
  o.range = {0, initial.size()};
  o.optimizer.name = "sgd";
  o.optimizer.lr = 0.5;
  PolicySpec spec;
  spec.name = "async";
  ServerCore core(make_policy(spec, 1).server, initial, o);
  std::ostringstream body;
  write_checkpoint_header(body, {0x1234, 0, initial.size(), 2.5, 640});
  core.save(body);
  const std::string b = body.str();
  const auto ckpt = CheckpointStore(dir, 0).write(7, std::vector<std::uint8_t>(b.begin(), b.end()));
  write_shard_params(dir, 0, o.range, initial);

  const std::string cmd = "python3 '" SYNCLAB_SOURCE_DIR "/scripts/read_binary.py' '" + ckpt.string() + "' '" +
                          (dir / "shard-0.params").string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  ASSERT_EQ(::pclose(p), 0) << out;
  std::istringstream lines(out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line)) << out;
  const auto c = nlohmann::json::parse(line);
  EXPECT_EQ(c["fingerprint"], 0x1234);
  EXPECT_EQ(c["samples"], 640);
  EXPECT_DOUBLE_EQ(c["run_time_s"].get<double>(), 2.5);
  EXPECT_EQ(c["version"], 0);
  EXPECT_EQ(c["count"], 5);
  EXPECT_EQ(c["first"][1], -1.25);
  EXPECT_DOUBLE_EQ(c["sum"].get<double>(), 4.0);
  ASSERT_TRUE(std::getline(lines, line)) << out;
  const auto f = nlohmann::json::parse(line);
  EXPECT_EQ(f["begin"], 0);
  EXPECT_EQ(f["end"], 5);
  EXPECT_EQ(f["first"][3], 3.5);
  EXPECT_DOUBLE_EQ(f["sum"].get<double>(), 4.0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
