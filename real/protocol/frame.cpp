#include "real/protocol/frame.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <zlib.h>

#include "real/protocol/crc32.hpp"

namespace synclab::real {
namespace {

constexpr const char* kTypeNames[] = {"?",      "hello", "hello-ack", "refuse", "push",  "pull-request", "params",
                                      "cancel", "heartbeat", "stop",  "bye",    "error", "report"};

std::uint32_t load_u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint16_t load_u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

std::uint32_t crc_bytes(std::uint32_t crc, const std::uint8_t* p, std::size_t n) { return crc32_update(crc, p, n); }

}  // namespace

std::string msg_type_name(std::uint8_t type) {
  if (type >= 1 && type <= kMaxMsgType) return kTypeNames[type];
  return fmt::format("type {}", type);
}

bool carries_params(MsgType type) { return type == MsgType::Push || type == MsgType::Params; }

// Must match the encoders in messages.cpp (a test checks it).
std::size_t fixed_meta_size(MsgType type) {
  switch (type) {
    case MsgType::Push: return 4 + 8 + 8 + 4 + 1 + 4 + 4;
    case MsgType::Params: return 8 + 4 + 4;
    default: return 0;
  }
}

std::uint32_t crc32_of(std::initializer_list<std::span<const std::uint8_t>> parts) {
  std::uint32_t crc = crc_bytes(0, nullptr, 0);
  for (auto part : parts) crc = crc_bytes(crc, part.data(), part.size());
  return crc;
}

namespace {

std::array<std::uint8_t, kHeaderSize> seal_header(MsgType type, std::uint8_t flags, std::size_t len, std::uint32_t pcrc) {
  const std::uint32_t magic = kFrameMagic, payload_len = static_cast<std::uint32_t>(len);
  const std::uint16_t version = kProtocolVersion;
  std::array<std::uint8_t, kHeaderSize> h{};
  std::memcpy(h.data() + 0, &magic, 4);
  std::memcpy(h.data() + 4, &version, 2);
  h[6] = static_cast<std::uint8_t>(type);
  h[7] = flags;
  std::memcpy(h.data() + 8, &payload_len, 4);
  std::memcpy(h.data() + 12, &pcrc, 4);
  const std::uint32_t hcrc = crc_bytes(crc_bytes(0, nullptr, 0), h.data(), 16);
  std::memcpy(h.data() + 16, &hcrc, 4);
  return h;
}

}  // namespace

std::array<std::uint8_t, kHeaderSize> encode_header(MsgType type, std::uint8_t flags,
                                                    std::initializer_list<std::span<const std::uint8_t>> parts) {
  std::size_t len = 0;
  for (auto part : parts) len += part.size();
  return seal_header(type, flags, len, crc32_of(parts));
}

std::array<std::uint8_t, kHeaderSize> encode_header_known_crc(MsgType type, std::uint8_t flags, std::span<const std::uint8_t> meta,
                                                              std::uint32_t tail_crc, std::size_t tail_len) {
  const std::uint32_t head = crc32_of({meta});
  const std::uint32_t crc = tail_len ? static_cast<std::uint32_t>(crc32_combine(head, tail_crc, static_cast<z_off_t>(tail_len))) : head;
  return seal_header(type, flags, meta.size() + tail_len, crc);
}

std::vector<std::uint8_t> encode_frame(MsgType type, std::span<const std::uint8_t> payload, std::uint8_t flags) {
  const auto h = encode_header(type, flags, {payload});
  std::vector<std::uint8_t> out(kHeaderSize + payload.size());
  std::memcpy(out.data(), h.data(), kHeaderSize);
  if (!payload.empty()) std::memcpy(out.data() + kHeaderSize, payload.data(), payload.size());
  return out;
}

FrameAdmission FrameAdmission::any(std::size_t max_param_payload) {
  FrameAdmission a;
  a.max_param_payload = max_param_payload;
  a.max_control_payload = std::min<std::size_t>(kMaxControlPayload, max_param_payload);
  return a;
}

FrameAdmission FrameAdmission::hello_only() {
  FrameAdmission a;
  a.types = 1u << static_cast<unsigned>(MsgType::Hello) | 1u << static_cast<unsigned>(MsgType::Heartbeat);
  a.max_param_payload = 0;
  a.max_control_payload = kMaxHelloPayload;
  a.state = "before the hello";
  return a;
}

std::size_t FrameAdmission::limit(std::uint8_t type) const {
  return carries_params(static_cast<MsgType>(type)) ? max_param_payload : max_control_payload;
}

bool ReceiveBudget::try_reserve(std::size_t n) {
  if (n > limit_ || in_use_ > limit_ - n) return false;
  in_use_ += n;
  return true;
}

FrameParser::FrameParser(std::size_t max_param_payload) : FrameParser(FrameAdmission::any(max_param_payload)) {}

FrameParser::FrameParser(FrameAdmission admission, std::shared_ptr<ReceiveBudget> budget)
    : admission_(admission), budget_(std::move(budget)) {}

FrameParser::~FrameParser() {
  if (budget_) budget_->release(held_);
}

std::size_t FrameParser::bytes_owned() const {
  return frame_.payload.capacity() + frame_.floats.capacity() * sizeof(float) + spare_.capacity() + spare_floats_.capacity() * sizeof(float);
}

// Brings the reservation in line with what the parser owns after buffers left (take) or
// arrived (recycle, which only keeps a buffer the budget has room for).
void FrameParser::settle_budget() {
  if (!budget_) return;
  const std::size_t owned = bytes_owned();
  if (owned > held_) budget_->force_reserve(owned - held_);
  else budget_->release(held_ - owned);
  held_ = owned;
}

void FrameParser::fail(FrameError e, std::string text) {
  state_ = State::Failed;
  error_ = e;
  error_text_ = std::move(text);
}

std::size_t FrameParser::feed(std::span<const std::uint8_t> data) {
  std::size_t used = 0;
  while (used < data.size() && (state_ == State::Header || state_ == State::Payload)) {
    if (state_ == State::Header) {
      // Take the magic alone first so a foreign stream is rejected having consumed 4 bytes.
      const std::size_t want = (have_ < 4 ? 4 : kHeaderSize) - have_;
      const std::size_t n = std::min(want, data.size() - used);
      std::memcpy(head_.data() + have_, data.data() + used, n);
      const std::size_t before = have_;
      have_ += n;
      used += n;
      // Reject a foreign stream as soon as the magic is known rather than waiting for 20 bytes.
      if (before < 4 && have_ >= 4 && load_u32(head_.data()) != kFrameMagic) {
        fail(FrameError::BadMagic, fmt::format("bad frame magic 0x{:08x} (not a synclab peer?)", load_u32(head_.data())));
        break;
      }
      if (have_ == kHeaderSize) header_complete();
    } else {
      auto space = payload_space();
      const std::size_t n = std::min(space.size(), data.size() - used);
      std::memcpy(space.data(), data.data() + used, n);
      used += n;
      commit(n);
    }
  }
  return used;
}

void FrameParser::header_complete() {
  const std::uint32_t hcrc = load_u32(head_.data() + 16);
  if (crc_bytes(crc_bytes(0, nullptr, 0), head_.data(), 16) != hcrc) return fail(FrameError::BadHeaderCrc, "frame header checksum mismatch");
  const std::uint16_t version = load_u16(head_.data() + 4);
  if (version != kProtocolVersion) {
    peer_version_ = version;
    return fail(FrameError::BadVersion, fmt::format("peer speaks protocol version {}, this build speaks {}", version, kProtocolVersion));
  }
  const std::uint8_t type = head_[6];
  if (type < 1 || type > kMaxMsgType) return fail(FrameError::UnknownType, fmt::format("unknown message type {}", type));
  FrameHeader& h = frame_.header;
  h.magic = kFrameMagic;
  h.version = version;
  h.type = static_cast<MsgType>(type);
  h.flags = head_[7];
  h.payload_len = load_u32(head_.data() + 8);
  h.payload_crc = load_u32(head_.data() + 12);
  if (!admission_.accepts(type))
    return fail(FrameError::NotAdmitted, fmt::format("{} frame not accepted {}", msg_type_name(type), admission_.state));
  const std::size_t limit = admission_.limit(type);
  if (h.payload_len > limit)
    return fail(FrameError::TooLarge, fmt::format("frame claims {} payload bytes for {}{}{}, limit {}", h.payload_len,
                                                  msg_type_name(type), *admission_.state ? " " : "", admission_.state, limit));
  const std::size_t meta = fixed_meta_size(h.type);
  frame_.split = meta > 0 && h.payload_len >= meta && (h.payload_len - meta) % sizeof(float) == 0;
  if (budget_) {
    // Reserve what the buffers will hold once sized for this frame, before allocating it.
    const std::size_t bytes_len = frame_.split ? meta : h.payload_len;
    const std::size_t float_bytes = frame_.split ? h.payload_len - meta : 0;
    const std::size_t after = std::max(spare_.capacity(), bytes_len) + std::max(spare_floats_.capacity() * sizeof(float), float_bytes);
    const std::size_t owned = bytes_owned();
    if (after > owned && !budget_->try_reserve(after - owned))
      return fail(FrameError::OverBudget, fmt::format("{} frame of {} bytes refused: receive buffers full ({} of {} bytes in use)",
                                                      msg_type_name(type), h.payload_len, budget_->in_use(), budget_->limit()));
    if (after > owned) held_ += after - owned;
  }
  // Only now is the size trusted enough to allocate (reusing a recycled buffer when possible).
  // A recycled buffer keeps its old size, so resizing to an equal length does not re-zero it.
  frame_.payload = std::move(spare_);
  spare_ = {};
  total_ = h.payload_len;
  if (frame_.split) {
    frame_.payload.resize(meta);
    frame_.floats = std::move(spare_floats_);
    spare_floats_ = {};
    frame_.floats.resize((h.payload_len - meta) / sizeof(float));
  } else {
    frame_.payload.resize(h.payload_len);
  }
  have_ = 0;
  running_crc_ = 0;
  state_ = State::Payload;
  if (h.payload_len == 0) payload_complete();
}

std::span<std::uint8_t> FrameParser::payload_space() {
  if (state_ != State::Payload) return {};
  const std::size_t meta = frame_.payload.size();
  if (have_ < meta) return std::span<std::uint8_t>(frame_.payload).subspan(have_);
  auto* f = reinterpret_cast<std::uint8_t*>(frame_.floats.data());
  return {f + (have_ - meta), total_ - have_};
}

void FrameParser::commit(std::size_t n) {
  if (state_ != State::Payload) return;
  auto space = payload_space();
  n = std::min(n, space.size());
  // Checksumming each chunk as it lands works on cache-warm bytes instead of a second
  // pass over the whole payload.
  running_crc_ = crc_bytes(running_crc_, space.data(), n);
  have_ += n;
  if (have_ == total_) payload_complete();
}

void FrameParser::payload_complete() {
  const auto crc = running_crc_;
  if (crc != frame_.header.payload_crc)
    return fail(FrameError::BadPayloadCrc, fmt::format("payload checksum mismatch in {} frame", msg_type_name(static_cast<std::uint8_t>(frame_.header.type))));
  state_ = State::Done;
}

Frame FrameParser::take() {
  Frame out = std::move(frame_);
  frame_ = Frame{};
  have_ = 0;
  state_ = State::Header;
  settle_budget();
  return out;
}

void FrameParser::recycle(std::vector<std::uint8_t>&& buffer) {
  if (buffer.capacity() <= spare_.capacity()) return;
  if (budget_ && !budget_->try_reserve(buffer.capacity() - spare_.capacity())) return;  // let it go instead
  if (budget_) held_ += buffer.capacity() - spare_.capacity();
  spare_ = std::move(buffer);
}

void FrameParser::recycle(std::vector<float>&& floats) {
  const std::size_t have = spare_floats_.capacity() * sizeof(float), get = floats.capacity() * sizeof(float);
  if (get <= have) return;
  if (budget_ && !budget_->try_reserve(get - have)) return;
  if (budget_) held_ += get - have;
  spare_floats_ = std::move(floats);
}

}  // namespace synclab::real
