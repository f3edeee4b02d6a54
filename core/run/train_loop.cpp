// The single-process training loop behind `synclab train`.
#include "core/run/train_loop.hpp"

#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <numeric>
#include <thread>

#include <fmt/format.h>

#include "core/backends/device.hpp"
#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/data/dataset.hpp"
#include "core/models/model_spec.hpp"
#include "core/optim/optimizer.hpp"
#include "core/run/network_threads.hpp"
#include "core/run/run_monitor.hpp"
#include "core/run/run_writer.hpp"

namespace synclab {

namespace {

using Clock = std::chrono::steady_clock;

// Training time excludes evaluations, so time_s means the same as in sim: time spent training.
class TrainClock {
 public:
  TrainClock() : start_(Clock::now()) {}
  double seconds() const { return paused_ ? at_pause_ : elapsed() - excluded_; }
  void pause() { at_pause_ = seconds(); pause_start_ = elapsed(); paused_ = true; }
  void resume() { excluded_ += elapsed() - pause_start_; paused_ = false; }
 private:
  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  Clock::time_point start_;
  double excluded_ = 0, pause_start_ = 0, at_pause_ = 0;
  bool paused_ = false;
};

std::string format_eta(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  const auto t = static_cast<long>(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

}  // namespace

int usable_cpus() {
  // hardware_concurrency counts every online CPU, also those a container or taskset forbids.
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

RunSummary train_run(const RunConfig& config, const std::filesystem::path& dir, const TrainOptions& options) {
  std::ostream& log = options.log ? *options.log : std::cerr;
  const auto& tc = config.train;
  const DataSplit data = load_data(config.data.source, tc.seed);
  const ModelSpec spec = make_model_spec(config.model);
  if (spec.input_size() != data.train.sample_size()) {
    throw ConfigError("model", fmt::format("{} expects {} inputs per sample but {} samples have {}", spec.name,
                                           spec.input_size(), data.train.name, data.train.sample_size()));
  }
  if (spec.classes < data.train.classes) {
    throw ConfigError("model", fmt::format("{} has {} outputs for {} classes", spec.name, spec.classes, data.train.classes));
  }
  const std::size_t batch = config.data.batch;
  NetworkOptions net_opts;
  net_opts.max_batch = std::max(batch, kEvalBatch);
  net_opts.threads = network_threads(tc.threads);
  const DeviceChoice device = select_run_device(config.worker.device, tc.backend);
  net_opts.device = device.ordinal;
  auto net = make_network(spec, device.backend, net_opts);
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  init_params(spec, params.data(), tc.seed);
  auto optimizer = make_optimizer(tc.optimizer, params.size());

  std::vector<std::uint32_t> all(data.train.size());
  std::iota(all.begin(), all.end(), 0u);
  BatchSampler sampler(data.train, std::move(all), batch, derive_seed(tc.seed, 0x7a1, 0));
  RunWriter writer(dir, config);
  // Announced only once everything loaded, so a failing setup prints just its error line.
  log << fmt::format("train: {} ({} parameters) on {} ({} train / {} test samples), {} backend{}, batch {}, {} lr {}; run directory {}\n",
                     spec.name, spec.num_params(), data.train.name, data.train.size(), data.test.size(), to_string(net->kind()),
                     device.backend == BackendKind::Cuda ? " on " + device.label() : fmt::format(" x{} threads", net_opts.threads),
                     batch, tc.optimizer.name, tc.optimizer.lr, dir.string())
      << std::flush;

  if (const std::string notice = unbounded_run_notice(config); !notice.empty()) log << "train: " << notice << "\n";

  // The run monitor decides when to evaluate and when to stop, as in every driver.
  RunMonitor monitor(MonitorLimits::from(config, true), &writer);
  TrainClock clock;
  std::uint64_t last_eval_update = 0;
  auto score = [&](const EvalPoint& at) {
    clock.pause();  // training time excludes evaluations
    const TestResult r = evaluate_dataset(*net, params, data.test, at.test_samples, kEvalBatch);
    clock.resume();
    last_eval_update = at.version;
    return r;
  };
  auto act = [&](const MonitorActions& a) {
    if (a.evaluate) monitor.evaluated(*a.evaluate, score(*a.evaluate));  // a stop it decides is the monitor's state
  };

  act(monitor.started());
  std::uint64_t update = 0;
  double loss_ema = 0;
  const std::uint64_t log_every = tc.stop_updates ? std::max<std::uint64_t>(1, tc.stop_updates / 10) : tc.eval_every;
  auto last_draw = Clock::now();
  while (!monitor.stopped()) {
    const Batch b = sampler.next();
    const float loss = net->forward_backward(params, b, grad, derive_seed(tc.seed, 0xd50, update));
    optimizer->step(params, grad);
    ++update;
    // A non-finite loss (diverged) or a failed write stops the run here, as in sim and real.
    act(monitor.applied(clock.seconds(), AppliedGradient{update, 0, 0, loss, batch}));
    act(monitor.version(clock.seconds(), update));
    if (options.cancel && options.cancel->load()) monitor.stop(clock.seconds(), "interrupted");
    if (std::isfinite(loss)) loss_ema = update == 1 ? loss : 0.95 * loss_ema + 0.05 * loss;

    const double rate = static_cast<double>(update) / std::max(clock.seconds(), 1e-9);
    double eta = -1;
    if (tc.stop_updates) eta = static_cast<double>(tc.stop_updates - std::min(update, tc.stop_updates)) / rate;
    if (tc.stop_time > 0) eta = eta < 0 ? tc.stop_time - clock.seconds() : std::min(eta, tc.stop_time - clock.seconds());
    const auto& last = monitor.last_evaluation();
    const std::string progress =
        fmt::format("update {}{} | {:.1f} updates/s | loss {:.4f} | test acc {:.4f} (update {}) | ETA {}", update,
                    tc.stop_updates ? fmt::format("/{}", tc.stop_updates) : "", rate, loss_ema, last ? last->accuracy : 0.0,
                    last_eval_update, format_eta(eta));
    if (options.live_progress) {
      if (Clock::now() - last_draw > std::chrono::milliseconds(200) || monitor.stopped()) {
        log << "\r\033[K" << progress << std::flush;
        last_draw = Clock::now();
      }
    } else if (options.log_progress && ((log_every && update % log_every == 0) ||
                                        (!log_every && Clock::now() - last_draw > std::chrono::seconds(10)))) {
      // Without an update limit or evaluations there is no count to take tenths of: every 10 s.
      log << "train: " << progress << "\n" << std::flush;
      last_draw = Clock::now();
    }
  }
  if (options.live_progress) log << "\n";
  // The summary's figures are over the whole test set, whatever eval_samples says.
  if (const std::optional<EvalPoint> at = monitor.final_evaluation()) monitor.final_evaluated(*at, score(*at));

  RunSummary s;
  monitor.fill(s);
  s.backend = "train";
  s.policy = "none";
  s.workers = 1;
  s.bytes_sent = 0;
  s.final_params_sha256 = sha256_hex(params);
  WorkerFigures worker;
  worker.compute_s = s.time_s;
  worker.steps = worker.pushes = update;
  worker.samples = update * batch;
  worker.device = device.label();
  s.per_worker.push_back(worker);
  s.extra = {{"model", spec.name},
             {"dataset", data.train.name},
             {"compute_backend", to_string(net->kind())},
             {"device", device.label()},
             {"threads", net_opts.threads},
             {"num_params", spec.num_params()},
             {"batch", batch},
             {"epochs", static_cast<double>(s.samples) / static_cast<double>(data.train.size())},
             {"optimizer", tc.optimizer.name},
             {"seed", tc.seed}};
  writer.finish(s);
  if (monitor.stop_state()->failed()) throw Error("train: " + s.error);
  return s;
}

}  // namespace synclab
