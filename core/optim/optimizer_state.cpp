#include "core/optim/optimizer_state.hpp"

#include <algorithm>
#include <cstdint>
#include <istream>
#include <ostream>

#include "core/common/error.hpp"

namespace synclab::optim {
namespace {

constexpr char kMagic[8] = {'S', 'L', 'O', 'P', 'T', 'S', 'T', '1'};
constexpr std::uint32_t kVersion = 1;
// Caps what a corrupt header may make us allocate before the size check fails.
constexpr std::uint64_t kMaxName = 64;

template <class T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

template <class T>
T get(std::istream& in, const char* what) {
  T v{};
  if (!in.read(reinterpret_cast<char*>(&v), sizeof v))
    throw Error(std::string("optimizer state: truncated while reading ") + what);
  return v;
}

}  // namespace

void write_state(std::ostream& out, const OptimizerState& state) {
  out.write(kMagic, sizeof kMagic);
  put<std::uint32_t>(out, kVersion);
  put<std::uint64_t>(out, state.name.size());
  out.write(state.name.data(), static_cast<std::streamsize>(state.name.size()));
  put<std::uint64_t>(out, state.size);
  put<std::uint64_t>(out, state.steps);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(state.arrays.size()));
  for (const auto* a : state.arrays) {
    put<std::uint64_t>(out, a->size());
    out.write(reinterpret_cast<const char*>(a->data()), static_cast<std::streamsize>(a->size() * sizeof(float)));
  }
  if (!out) throw Error("optimizer state: write failed");
}

std::size_t read_state(std::istream& in, const std::string& name, std::size_t size,
                       const std::vector<std::vector<float>*>& arrays) {
  char magic[sizeof kMagic];
  if (!in.read(magic, sizeof magic) || !std::equal(magic, magic + sizeof magic, kMagic))
    throw Error("optimizer state: bad magic (not an optimizer checkpoint)");
  const auto version = get<std::uint32_t>(in, "version");
  if (version != kVersion)
    throw Error("optimizer state: format version " + std::to_string(version) + ", expected " + std::to_string(kVersion));
  const auto name_len = get<std::uint64_t>(in, "name length");
  if (name_len > kMaxName) throw Error("optimizer state: corrupt name length " + std::to_string(name_len));
  std::string stored(name_len, '\0');
  if (!in.read(stored.data(), static_cast<std::streamsize>(name_len)))
    throw Error("optimizer state: truncated while reading name");
  if (stored != name) throw Error("optimizer state: written by '" + stored + "', cannot load into '" + name + "'");
  const auto stored_size = get<std::uint64_t>(in, "size");
  if (stored_size != size)
    throw Error("optimizer state: covers " + std::to_string(stored_size) + " parameters, expected " +
                std::to_string(size));
  const auto steps = get<std::uint64_t>(in, "steps");
  const auto count = get<std::uint32_t>(in, "array count");
  if (count != arrays.size())
    throw Error("optimizer state: " + std::to_string(count) + " state arrays, expected " + std::to_string(arrays.size()));
  // Read into scratch first so a failure leaves the optimizer unchanged.
  std::vector<std::vector<float>> loaded(arrays.size());
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const auto len = get<std::uint64_t>(in, "array length");
    if (len != size)
      throw Error("optimizer state: array " + std::to_string(i) + " has " + std::to_string(len) + " floats, expected " +
                  std::to_string(size));
    loaded[i].resize(size);
    if (!in.read(reinterpret_cast<char*>(loaded[i].data()), static_cast<std::streamsize>(size * sizeof(float))))
      throw Error("optimizer state: truncated in array " + std::to_string(i));
  }
  for (std::size_t i = 0; i < arrays.size(); ++i) arrays[i]->swap(loaded[i]);
  return static_cast<std::size_t>(steps);
}

}  // namespace synclab::optim
