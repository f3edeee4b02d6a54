// Checkpoint files: atomic write, newest valid one wins, corrupt or truncated ones skipped.
#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace
}  // namespace synclab::real
