#pragma once
// The frame codec of the synclab wire protocol, kept apart from any I/O: a header encoder
// and an incremental parser fed arbitrary byte chunks.
//
// Frame = 20-byte header + payload. Header fields, little-endian:
//   magic u32 ("SYNL") | version u16 | type u8 | flags u8 | payload_len u32 |
//   payload_crc u32 (zlib crc32 of the payload) | header_crc u32 (crc32 of the 16 bytes before it)
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace synclab::real {

inline constexpr std::uint32_t kFrameMagic = 0x4C4E5953;  ///< bytes 'S' 'Y' 'N' 'L' on the wire
inline constexpr std::uint16_t kProtocolVersion = 2;      ///< bumped on any incompatible change
inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::uint32_t kMaxControlPayload = 64 * 1024;  ///< cap for messages without parameter data
inline constexpr std::uint32_t kMaxHelloPayload = 1024;         ///< cap for a hello (its strings are bounded to fit)

/// Message types; numbers are part of the wire format.
enum class MsgType : std::uint8_t {
  Hello = 1,        ///< peer -> server: who I am, model fingerprint, token
  HelloAck = 2,     ///< server -> peer: accepted, current version, run clock
  Refuse = 3,       ///< server -> peer: refused with a reason; connection closes
  Push = 4,         ///< worker -> server: gradient / delta / params for the server's range
  PullRequest = 5,  ///< worker -> server: send me parameters newer than a version
  Params = 6,       ///< server -> worker: parameters of the server's range at a version
  Cancel = 7,       ///< server -> worker: abandon the step in flight (e.g. late backup worker)
  Heartbeat = 8,    ///< either way: liveness
  Stop = 9,         ///< server -> worker: the job is over
  Bye = 10,         ///< worker -> server: leaving cleanly
  Error = 11,       ///< either way: a protocol error before closing
  Report = 12,      ///< worker -> server: final per-worker timing figures
};
inline constexpr std::uint8_t kMaxMsgType = 12;

/// Printable name of a type ("push"), or "type N" for unknown numbers.
std::string msg_type_name(std::uint8_t type);

/// True for types that may carry parameter data (bounded by the model size, not the control cap).
bool carries_params(MsgType type);

struct FrameHeader {
  std::uint32_t magic = kFrameMagic;
  std::uint16_t version = kProtocolVersion;
  MsgType type = MsgType::Heartbeat;
  std::uint8_t flags = 0;
  std::uint32_t payload_len = 0;
  std::uint32_t payload_crc = 0;
};

struct Frame {
  FrameHeader header;
  std::vector<std::uint8_t> payload;  ///< the payload; for a split frame only its metadata part
  std::vector<float> floats;          ///< split frame: the trailing float array, received apart
  bool split = false;                 ///< push/params whose floats were received into `floats`
};

/// Bytes of metadata (count field included) before the float array of a push / params
/// payload; 0 for other types.
std::size_t fixed_meta_size(MsgType type);

/// zlib crc32 over several byte ranges in order, as if they were one.
std::uint32_t crc32_of(std::initializer_list<std::span<const std::uint8_t>> parts);

/// Encodes the header of a frame whose payload is the concatenation of parts.
std::array<std::uint8_t, kHeaderSize> encode_header(MsgType type, std::uint8_t flags,
                                                    std::initializer_list<std::span<const std::uint8_t>> parts);

/// Same, when the payload is meta followed by a large part whose crc32 is already known
/// (a parameter snapshot sent to many workers is checksummed once).
std::array<std::uint8_t, kHeaderSize> encode_header_known_crc(MsgType type, std::uint8_t flags, std::span<const std::uint8_t> meta,
                                                              std::uint32_t tail_crc, std::size_t tail_len);

/// Header + payload in one buffer (tests and small messages).
std::vector<std::uint8_t> encode_frame(MsgType type, std::span<const std::uint8_t> payload, std::uint8_t flags = 0);

/// What a peer may send in its current state. The parser checks a header against it before
/// allocating anything, so an unauthenticated peer cannot make the receiver reserve more
/// than a hello's worth of memory.
struct FrameAdmission {
  std::uint32_t types = ~0u;                             ///< bit t set: message type t is accepted
  std::size_t max_param_payload = 0;                     ///< payload bound of push / params frames
  std::size_t max_control_payload = kMaxControlPayload;  ///< payload bound of every other type
  const char* state = "";                                ///< for error lines ("before the hello")
  /// Any type, push / params up to max_param_payload, the rest up to min(64 KiB, that).
  static FrameAdmission any(std::size_t max_param_payload);
  /// A peer that has not been authenticated: hello (and heartbeat) frames of kMaxHelloPayload bytes.
  static FrameAdmission hello_only();
  bool accepts(std::uint8_t type) const { return type < 32 && (types >> type & 1u); }
  std::size_t limit(std::uint8_t type) const;
};

/// Receive-buffer bytes shared by the connections of one process: each parser reserves what
/// it holds and gives it back when it lets go of a buffer or is destroyed.
class ReceiveBudget {
 public:
  explicit ReceiveBudget(std::size_t limit) : limit_(limit) {}
  /// Reserves n bytes unless that would exceed the limit (then reserves nothing).
  bool try_reserve(std::size_t n);
  /// Reserves n bytes even over the limit (a buffer already allocated).
  void force_reserve(std::size_t n) { in_use_ += n; }
  void release(std::size_t n) { in_use_ -= std::min(n, in_use_); }
  std::size_t in_use() const { return in_use_; }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::size_t in_use_ = 0;
};

/// Why the parser rejected the stream. Any error is final for that connection.
enum class FrameError {
  None,
  BadMagic,        ///< not a synclab peer (or a desynchronised stream)
  BadHeaderCrc,    ///< header corrupted
  BadVersion,      ///< another protocol version
  UnknownType,     ///< type number not in MsgType
  TooLarge,        ///< payload_len above the limit for that type; rejected before allocating
  BadPayloadCrc,   ///< payload corrupted
  NotAdmitted,     ///< a type the peer may not send in its state (e.g. push before the hello)
  OverBudget,      ///< the process's receive buffers are full; rejected before allocating
};

/// Incremental frame parser. Feed any chunks (down to single bytes); it yields whole frames
/// whose header and payload checksums verified, or stops at the first error. The payload
/// is allocated only after the header checked out, its type is admitted, its length is
/// within the admitted limit and the budget (if any) has room for it.
/// Push and params payloads are split: metadata into `payload`, the float array straight
/// into `floats`, so decoding them moves the array instead of copying it.
class FrameParser {
 public:
  /// max_param_payload bounds messages that carry parameters; control messages are capped
  /// at min(kMaxControlPayload, max_param_payload).
  explicit FrameParser(std::size_t max_param_payload);
  /// A parser that accepts only what `admission` allows and, with a budget, reserves every
  /// buffer it holds there first.
  explicit FrameParser(FrameAdmission admission, std::shared_ptr<ReceiveBudget> budget = nullptr);
  ~FrameParser();
  FrameParser(const FrameParser&) = delete;
  FrameParser& operator=(const FrameParser&) = delete;
  /// Changes what the peer may send from the next frame on (e.g. after its hello verified).
  void admit(FrameAdmission admission) { admission_ = admission; }
  /// Receive-buffer bytes this parser holds (payload buffers, recycled ones included).
  std::size_t held_bytes() const { return held_; }

  /// Consumes bytes from data until one frame is complete, an error occurs or data ends.
  /// Returns the number of bytes consumed; call again with the rest after take().
  std::size_t feed(std::span<const std::uint8_t> data);
  /// While a payload is being received: the still-missing part of the payload buffer, so a
  /// reader can receive straight into it (then commit()). Empty otherwise.
  std::span<std::uint8_t> payload_space();
  /// Marks n bytes written into payload_space() as received.
  void commit(std::size_t n);

  bool has_frame() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }
  /// True when part of a frame has arrived but not all of it (used for read deadlines).
  bool mid_frame() const { return state_ == State::Payload || (state_ == State::Header && have_ > 0); }
  /// Moves the completed frame out and resets for the next one; requires has_frame().
  Frame take();
  /// Gives a payload buffer back for reuse so large frames do not reallocate every time.
  void recycle(std::vector<std::uint8_t>&& buffer);
  /// Same for the float array of split frames.
  void recycle(std::vector<float>&& floats);

  FrameError error() const { return error_; }
  /// One-line description of the error ("frame claims 4294967295 payload bytes for push, limit 13098548").
  const std::string& error_text() const { return error_text_; }
  /// The version field of a header rejected with BadVersion (to tell the peer what we speak).
  std::uint16_t peer_version() const { return peer_version_; }
  std::size_t max_param_payload() const { return admission_.max_param_payload; }

 private:
  enum class State { Header, Payload, Done, Failed };
  void header_complete();
  void payload_complete();
  void fail(FrameError e, std::string text);
  std::size_t bytes_owned() const;
  void settle_budget();

  FrameAdmission admission_;
  std::shared_ptr<ReceiveBudget> budget_;
  std::size_t held_ = 0;  // bytes reserved in budget_ (== bytes_owned() between calls)
  State state_ = State::Header;
  std::array<std::uint8_t, kHeaderSize> head_{};
  std::size_t have_ = 0;  // bytes of the current header or payload received
  std::uint32_t running_crc_ = 0;  // crc32 of the payload bytes received so far
  Frame frame_;
  std::vector<std::uint8_t> spare_;
  std::vector<float> spare_floats_;
  std::size_t total_ = 0;  // payload bytes expected (meta + floats for a split frame)
  FrameError error_ = FrameError::None;
  std::string error_text_;
  std::uint16_t peer_version_ = 0;
};

}  // namespace synclab::real
