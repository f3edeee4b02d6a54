// The run-directory lock: one holder at a time, the refusal names the holder's pid, and
// the lock is free again once the holder lets go.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <optional>

#include "core/common/error.hpp"
#include "real/launch/run_dir_lock.hpp"

namespace synclab::real {
namespace {

TEST(RunDirLock, SecondHolderIsRefusedWithTheFirstOnesPid) {
  const auto dir = std::filesystem::temp_directory_path() / ("synclab-lock-" + std::to_string(::getpid())) / "run";
  std::filesystem::remove_all(dir.parent_path());
  std::optional<RunDirLock> first(std::in_place, dir);  // creates the directory
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  std::string what;
  try {
    RunDirLock second(dir);  // another open file description: refused like another process
  } catch (const Error& e) {
    what = e.what();
  }
  EXPECT_NE(what.find("in use by another job (pid " + std::to_string(::getpid()) + ","), std::string::npos) << what;
  EXPECT_NE(what.find(".lock"), std::string::npos) << what;
  first.reset();
  EXPECT_NO_THROW(RunDirLock{dir});
  std::filesystem::remove_all(dir.parent_path());
}

}  // namespace
}  // namespace synclab::real
