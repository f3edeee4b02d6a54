// Directory locks: a second holder is refused with the first one's pid, parts of a
// directory lock independently, and a lock goes away with its process, even on kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>

#include "core/common/error.hpp"
#include "core/run/dir_lock.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

struct LockDir {
  fs::path path = fs::temp_directory_path() / ("synclab-lock-" + std::to_string(::getpid()) + "-" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  LockDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~LockDir() { fs::remove_all(path); }
};

std::string refusal(const fs::path& dir, int part) {
  try {
    DirLock l(dir, "second", part);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DirLock, ASecondHolderIsRefusedNamingTheFirst) {
  LockDir d;
  std::optional<DirLock> first;
  first.emplace(d.path, "synclab sweep");
  const std::string msg = refusal(d.path, -1);
  ASSERT_FALSE(msg.empty());
  EXPECT_EQ(msg.rfind(d.path.string() + ": in use by synclab sweep (pid " + std::to_string(::getpid()) + " on ", 0), 0u) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  LockHolder h;
  EXPECT_TRUE(DirLock::held(d.path, -1, &h));
  EXPECT_EQ(h.pid, ::getpid());
  EXPECT_EQ(h.purpose, "synclab sweep");
  first.reset();  // released with the object
  EXPECT_FALSE(DirLock::held(d.path, -1));
  EXPECT_NO_THROW(DirLock again(d.path, "again"));
}

TEST(DirLock, PartsConflictOnlyWithTheWholeAndTheSamePart) {
  LockDir d;
  DirLock part0(d.path, "shard 0/2", 0);
  DirLock part1(d.path, "shard 1/2", 1);
  EXPECT_NE(refusal(d.path, 1).find("in use by shard 1/2"), std::string::npos) << refusal(d.path, 1);
  const std::string whole = refusal(d.path, -1);
  EXPECT_NE(whole.find("in use by shard "), std::string::npos) << whole;
  EXPECT_TRUE(refusal(d.path, 2).empty());
}

TEST(DirLock, AWholeLockRefusesEveryPart) {
  LockDir d;
  DirLock whole(d.path, "synclab sweep");
  for (int part : {0, 1, 7}) EXPECT_NE(refusal(d.path, part).find("in use by synclab sweep"), std::string::npos) << part;
}

TEST(DirLock, GoesAwayWhenTheHolderIsKilled) {
  LockDir d;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The holder: takes the lock, says so, then waits to be killed.
    ::close(ready[0]);
    try {
      DirLock l(d.path, "holder");
      const char ok = 1;
      if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
      for (;;) ::pause();
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(ready[1]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  LockHolder h;
  EXPECT_TRUE(DirLock::held(d.path, -1, &h));
  EXPECT_EQ(h.pid, child);
  EXPECT_NE(refusal(d.path, -1).find("pid " + std::to_string(child)), std::string::npos);
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(DirLock::held(d.path, -1));
  EXPECT_NO_THROW(DirLock after(d.path, "after"));
}

TEST(DirLock, AMissingDirectoryIsAnErrorNamingIt) {
  const fs::path missing = fs::temp_directory_path() / "synclab-lock-missing-dir" / "nope";
  try {
    DirLock l(missing, "x");
    FAIL() << "locked a missing directory";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace synclab
