// Checkpoint files: atomic write, newest valid one wins, corrupt or truncated ones skipped.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <fstream>

#include "core/common/error.hpp"
#include "real/checkpoint/checkpoint_store.hpp"

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
  EXPECT_NE(what.find(".shard-0-000000000002.ckpt.tmp: write failed: File too large"), std::string::npos) << what;
  auto l = store.load_newest();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->sequence, 1u);
  EXPECT_EQ(store.files().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir / ".shard-0-000000000002.ckpt.tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace synclab::real
