// Push + pull of a parameter buffer over loopback through the real executor's transport
// (frame codec, crc32 both ways, Connection read/write paths): a server thread answers
// every push of N floats with a params reply of N floats, as a PS shard does.
// Reported: bytes moved per second (push + reply) for the CNN's 3,274,634 floats (13.1 MB).
#include <benchmark/benchmark.h>

#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include "real/net/connection.hpp"

namespace synclab::real {
namespace {

using asio::ip::tcp;

ConnectionLimits limits(std::size_t floats) {
  ConnectionLimits l;
  l.max_param_payload = max_param_payload(floats);
  l.heartbeat_interval = 0;
  l.idle_timeout = 60;
  l.frame_timeout = 60;
  return l;
}

asio::awaitable<void> echo_params(std::shared_ptr<Connection> c, std::size_t floats) {
  try {
    for (;;) {
      Frame f = co_await c->read_frame();
      auto push = decode_push(f, floats);
      c->recycle(std::move(f.payload));
      if (!push) co_return;
      auto values = std::make_shared<std::vector<float>>(std::move(push->values));
      ParamsReply meta;
      meta.version = push->clock;
      c->send(encode_params(meta, *values), values);
    }
  } catch (const std::exception&) {
  }
}

void BM_PushPull(benchmark::State& state) {
  const auto floats = static_cast<std::size_t>(state.range(0));
  asio::io_context server_io;
  tcp::acceptor acceptor(server_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::thread server([&] {
    tcp::socket s(server_io);
    acceptor.accept(s);
    auto c = std::make_shared<Connection>(std::move(s), limits(floats), "client");
    c->start();
    asio::co_spawn(server_io, echo_params(c, floats), asio::detached);
    server_io.run();
  });
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  auto conn = std::make_shared<Connection>(std::move(sock), limits(floats), "server");
  conn->start();
  std::vector<float> grad(floats, 0.5f);
  Push meta;
  meta.worker = 0;
  std::uint64_t clock = 0;
  for (auto _ : state) {
    meta.clock = ++clock;
    conn->send(encode_push(meta, grad));
    std::optional<ParamsReply> reply;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      Frame f = co_await conn->read_frame();
      reply = decode_params(f, floats);
      conn->recycle(std::move(f.payload));
    }, asio::detached);
    while (!reply) io.run_one();
    benchmark::DoNotOptimize(reply->values.data());
    conn->recycle(std::move(reply->values));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * 2 * static_cast<std::int64_t>(floats * sizeof(float)));
  state.counters["MB_per_round_trip"] = 2.0 * static_cast<double>(floats * sizeof(float)) / 1e6;
  conn->close("done");
  server_io.stop();
  server.join();
}

BENCHMARK(BM_PushPull)->Arg(3274634)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace
}  // namespace synclab::real

BENCHMARK_MAIN();
