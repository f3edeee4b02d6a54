// libFuzzer target: the input is split into chunks by its first byte and fed to the parser;
// completed frames go through their decoder. Build with clang and -DSYNCLAB_FUZZ=ON.
#include <cstddef>
#include <cstdint>
#include <span>

#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace synclab::real;
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 32;
  std::span<const std::uint8_t> rest(data + 1, size - 1);
  FrameParser parser(max_param_payload(256));
  while (!rest.empty() && !parser.failed()) {
    const std::size_t used = parser.feed(rest.first(std::min(chunk, rest.size())));
    rest = rest.subspan(used);
    if (!parser.has_frame()) continue;
    Frame f = parser.take();
    switch (f.header.type) {
      case MsgType::Hello: (void)decode_hello(f.payload); break;
      case MsgType::Push: (void)decode_push(f, 256); break;
      case MsgType::Params: (void)decode_params(f, 256); break;
      case MsgType::Report: (void)decode_report(f.payload); break;
      case MsgType::Stop: (void)decode_stop(f.payload); break;
      default: (void)decode_refuse(f.payload); break;
    }
  }
  return 0;
}
