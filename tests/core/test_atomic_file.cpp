// write_file_atomic and AtomicFile: the new content replaces the old in one step; a write the
// file system refuses, or a rename that fails, leaves the old file and no temporary file.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("synclab-atomic-" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Runs f with the file-size limit at `bytes` (writes beyond it fail with EFBIG, as on a
// full disk), then restores the limit.
template <class F>
void with_file_size_limit(rlim_t bytes, F f) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = bytes;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  f();
  ::setrlimit(RLIMIT_FSIZE, &old);
  ::signal(SIGXFSZ, old_handler);
}

TEST(AtomicFile, WritesAndReplaces) {
  TempDir d;
  const auto file = d.path / "index.csv";
  write_file_atomic(file, "first\n");
  EXPECT_EQ(slurp(file), "first\n");
  write_file_atomic(file, std::string("second\0with a zero\n", 19));
  EXPECT_EQ(slurp(file), std::string("second\0with a zero\n", 19));
  write_file_atomic(file, "");
  EXPECT_EQ(slurp(file), "");
  EXPECT_EQ(names_in(d.path), std::vector<std::string>{"index.csv"});
}

TEST(AtomicFile, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  TempDir d;
  const auto file = d.path / "summary.json";
  write_file_atomic(file, "old\n");
  std::string what;
  with_file_size_limit(4096, [&] {
    try {
      write_file_atomic(file, std::string(100000, 'x'));
    } catch (const Error& e) {
      what = e.what();
    }
  });
  EXPECT_EQ(what, file.string() + ": cannot write: File too large");
  EXPECT_EQ(slurp(file), "old\n");
  EXPECT_EQ(names_in(d.path), std::vector<std::string>{"summary.json"});
}

TEST(AtomicFile, AFailedRenameLeavesNoTemporary) {
  TempDir d;
  // A non-empty folder in the way: the rename fails after the data was written and synced.
  fs::create_directories(d.path / "busy" / "inside");
  try {
    write_file_atomic(d.path / "busy", "text");
    FAIL() << "replaced a folder";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind((d.path / "busy").string() + ": cannot replace: ", 0), 0u) << e.what();
  }
  EXPECT_EQ(names_in(d.path), std::vector<std::string>{"busy"});
  EXPECT_TRUE(fs::is_directory(d.path / "busy" / "inside"));
}

TEST(AtomicFile, AMissingFolderIsNamed) {
  TempDir d;
  try {
    write_file_atomic(d.path / "nope" / "file", "text");
    FAIL() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).rfind((d.path / "nope" / "file").string() + ": cannot create ", 0), 0u) << e.what();
  }
}

TEST(AtomicFile, AbandonedWithoutCommitLeavesTheOldFile) {
  TempDir d;
  const auto file = d.path / "a.ckpt";
  write_file_atomic(file, "old");
  {
    AtomicFile f(file, d.path / ".a.ckpt.tmp");
    EXPECT_EQ(f.temporary(), d.path / ".a.ckpt.tmp");
    f.write("new, never committed");
    EXPECT_TRUE(fs::exists(d.path / ".a.ckpt.tmp"));
  }  // e.g. an exception between writes
  EXPECT_EQ(slurp(file), "old");
  EXPECT_EQ(names_in(d.path), std::vector<std::string>{"a.ckpt"});
}

TEST(AtomicFile, PiecesAreJoinedInOrder) {
  TempDir d;
  const auto file = d.path / "parts";
  AtomicFile f(file);
  f.write("ab");
  const std::uint32_t n = 0x01020304;
  f.write(&n, sizeof n);
  f.write("cd");
  EXPECT_FALSE(fs::exists(file)) << "visible before commit";
  f.commit();
  std::string want = "ab";
  want.append(reinterpret_cast<const char*>(&n), sizeof n);
  want += "cd";
  EXPECT_EQ(slurp(file), want);
  EXPECT_THROW(f.write("more"), Error);
  EXPECT_EQ(names_in(d.path), std::vector<std::string>{"parts"});
}

}  // namespace
}  // namespace synclab
