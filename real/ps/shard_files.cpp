#include "real/ps/shard_files.hpp"

#include <cstring>
#include <fstream>
#include <istream>
#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"
#include "core/run/run_writer.hpp"

namespace synclab::real {
namespace {

constexpr char kCkptMagic[8] = {'S', 'L', 'P', 'S', 'H', 'D', 'R', '1'};
constexpr char kParamsMagic[8] = {'S', 'L', 'P', 'A', 'R', 'A', 'M', '1'};

template <class T>
void put(std::ostream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}
template <class T>
T get(std::istream& in) {
  T v{};
  in.read(reinterpret_cast<char*>(&v), sizeof v);
  return v;
}

}  // namespace

void write_checkpoint_header(std::ostream& out, const CheckpointHeader& h) {
  out.write(kCkptMagic, sizeof kCkptMagic);
  put(out, h.fingerprint);
  put(out, h.range_begin);
  put(out, h.range_end);
  put(out, h.run_time);
  put(out, h.samples);
}

CheckpointHeader read_checkpoint_header(std::istream& in) {
  char magic[8] = {};
  in.read(magic, sizeof magic);
  CheckpointHeader h;
  h.fingerprint = get<std::uint64_t>(in);
  h.range_begin = get<std::uint64_t>(in);
  h.range_end = get<std::uint64_t>(in);
  h.run_time = get<double>(in);
  h.samples = get<std::uint64_t>(in);
  if (!in || std::memcmp(magic, kCkptMagic, sizeof magic) != 0) throw Error("checkpoint: missing or corrupt server header");
  return h;
}

void write_shard_params(const std::filesystem::path& dir, int shard, Range range, std::span<const float> values) {
  std::ostringstream out;
  out.write(kParamsMagic, sizeof kParamsMagic);
  put(out, static_cast<std::uint64_t>(range.begin));
  put(out, static_cast<std::uint64_t>(range.end));
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size_bytes()));
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  write_file_atomic(dir / fmt::format("shard-{}.params", shard), out.str());
}

std::vector<float> read_all_shard_params(const std::filesystem::path& dir, int shards, std::size_t total) {
  std::vector<float> all(total);
  std::size_t expect_begin = 0;
  for (int s = 0; s < shards; ++s) {
    const auto file = dir / fmt::format("shard-{}.params", s);
    std::ifstream in(file, std::ios::binary);
    if (!in) throw DataError(file.string(), "missing (did PS shard " + std::to_string(s) + " finish?)");
    char magic[8] = {};
    in.read(magic, sizeof magic);
    const auto b = get<std::uint64_t>(in), e = get<std::uint64_t>(in);
    if (!in || std::memcmp(magic, kParamsMagic, sizeof magic) != 0 || b != expect_begin || e < b || e > total)
      throw DataError(file.string(), "not a shard parameter file of this model");
    in.read(reinterpret_cast<char*>(all.data() + b), static_cast<std::streamsize>((e - b) * sizeof(float)));
    if (!in) throw DataError(file.string(), "truncated");
    expect_begin = e;
  }
  if (expect_begin != total) throw Error(fmt::format("{}: shard files cover {} of {} parameters", dir.string(), expect_begin, total));
  return all;
}

std::vector<CsvRow> read_csv_rows(const std::filesystem::path& file, std::uint64_t max_update) {
  std::vector<CsvRow> rows;
  std::ifstream in(file);
  std::string line;
  if (!std::getline(in, line)) return rows;  // header
  while (std::getline(in, line)) {
    CsvRow r;
    double update = 0;
    if (std::sscanf(line.c_str(), "%lf,%lf,%lf,%lf,%lf", &r.time_s, &update, &r.a, &r.b, &r.c) != 5) continue;  // torn last line
    r.update = static_cast<std::uint64_t>(update);
    if (r.update <= max_update) rows.push_back(r);
  }
  return rows;
}

}  // namespace synclab::real
