#include "real/checkpoint/checkpoint_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <zlib.h>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"

namespace synclab::real {
namespace {

constexpr char kMagic[8] = {'S', 'Y', 'N', 'C', 'K', 'P', 'T', '1'};
constexpr std::size_t kSealHead = 8 + 8;  // magic + length
constexpr std::size_t kSealTail = 4;      // crc32 of the body

std::uint32_t crc_of(const std::uint8_t* p, std::size_t n) {
  return n ? static_cast<std::uint32_t>(crc32_z(crc32_z(0, nullptr, 0), p, n)) : 0u;
}

}  // namespace

CheckpointStore::CheckpointStore(std::filesystem::path dir, int shard, int keep) : dir_(std::move(dir)), shard_(shard), keep_(std::max(1, keep)) {}

std::filesystem::path CheckpointStore::write(std::uint64_t sequence, const std::vector<std::uint8_t>& bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error(fmt::format("{}: cannot create checkpoint directory: {}", dir_.string(), ec.message()));
  const auto final_path = dir_ / fmt::format("shard-{}-{:012}.ckpt", shard_, sequence);
  const auto tmp = dir_ / fmt::format(".shard-{}-{:012}.ckpt.tmp", shard_, sequence);
  // A shard has one writer: any temporary of ours is the remains of a writer killed
  // mid-write, and would hold disk space for good.
  const std::string tmp_prefix = fmt::format(".shard-{}-", shard_);
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(tmp_prefix, 0) == 0 && name.ends_with(".ckpt.tmp")) std::filesystem::remove(entry.path(), ec);
  }
  // Written aside, fsynced, renamed into place and the folder synced: a crash at any
  // instant leaves the previous checkpoint or this one, never a torn file.
  AtomicFile file(final_path, tmp);
  const std::uint64_t len = bytes.size();
  const std::uint32_t crc = crc_of(bytes.data(), bytes.size());
  file.write(kMagic, sizeof kMagic);
  file.write(&len, sizeof len);
  file.write(bytes.data(), bytes.size());
  file.write(&crc, sizeof crc);
  file.commit();
  // Older checkpoints go only after the new one is durable.
  auto all = list();
  for (std::size_t i = static_cast<std::size_t>(keep_); i < all.size(); ++i) std::filesystem::remove(all[i].second, ec);
  return final_path;
}

std::vector<std::pair<std::uint64_t, std::filesystem::path>> CheckpointStore::list() const {
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> out;
  std::error_code ec;
  const std::string prefix = fmt::format("shard-{}-", shard_);
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || entry.path().extension() != ".ckpt") continue;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - 5);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;
    out.emplace_back(std::stoull(digits), entry.path());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

std::vector<std::filesystem::path> CheckpointStore::files() const {
  std::vector<std::filesystem::path> out;
  for (auto& [seq, path] : list()) out.push_back(std::move(path));
  return out;
}

namespace {

// The body of a sealed checkpoint file, or why there is none.
std::optional<std::vector<std::uint8_t>> unseal(const std::filesystem::path& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot be read";
    return std::nullopt;
  }
  std::vector<std::uint8_t> all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.size() < kSealHead + kSealTail || std::memcmp(all.data(), kMagic, sizeof kMagic) != 0) {
    why = "not a synclab checkpoint or truncated";
    return std::nullopt;
  }
  std::uint64_t len = 0;
  std::memcpy(&len, all.data() + 8, 8);
  if (len != all.size() - kSealHead - kSealTail) {
    why = fmt::format("length {} does not match file size {}", len, all.size());
    return std::nullopt;
  }
  std::uint32_t crc = 0;
  std::memcpy(&crc, all.data() + kSealHead + len, 4);
  if (crc != crc_of(all.data() + kSealHead, len)) {
    why = "checksum mismatch";
    return std::nullopt;
  }
  all.erase(all.begin() + static_cast<std::ptrdiff_t>(kSealHead + len), all.end());
  all.erase(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(kSealHead));
  return all;
}

}  // namespace

std::string CheckpointStore::check(const std::filesystem::path& file) {
  std::string why;
  unseal(file, why);
  return why;
}

std::optional<CheckpointStore::Loaded> CheckpointStore::load_newest(std::vector<std::string>* skipped) const {
  for (const auto& [seq, path] : list()) {
    std::string why;
    auto body = unseal(path, why);
    if (!body) {
      if (skipped) skipped->push_back(fmt::format("{}: {}", path.string(), why));
      continue;
    }
    Loaded l;
    l.sequence = seq;
    l.file = path;
    l.bytes = std::move(*body);
    return l;
  }
  return std::nullopt;
}

}  // namespace synclab::real
