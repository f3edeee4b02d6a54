// Runs a fuzz target over the files of its seed corpus once each (no fuzzing, any
// compiler): `fuzz_replay TARGET DIR...`. CTest runs it over every checked-in corpus so
// an input that once crashed a decoder keeps being tried.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/fuzz/fuzz_targets.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const auto* target = argc >= 3 ? synclab::fuzz::find_target(argv[1]) : nullptr;
  if (!target) {
    std::fprintf(stderr, "usage: fuzz_replay TARGET DIR...   (TARGET: one of");
    for (const auto& t : synclab::fuzz::targets()) std::fprintf(stderr, " %s", t.name);
    std::fprintf(stderr, ")\n");
    return 2;
  }
  std::size_t files = 0;
  for (int a = 2; a < argc; ++a) {
    if (!fs::is_directory(argv[a])) {
      std::fprintf(stderr, "fuzz_replay: %s: not a directory\n", argv[a]);
      return 2;
    }
    for (const auto& e : fs::directory_iterator(argv[a])) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      target->run(bytes.data(), bytes.size());
      ++files;
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "fuzz_replay: no inputs for %s\n", target->name);
    return 1;
  }
  std::printf("%s: %zu inputs, no failure\n", target->name, files);
  return 0;
}
