#include "fixture.hpp"

#include <fstream>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <unistd.h>

namespace synclab::testing {
namespace fs = std::filesystem;

TempDir::TempDir(const std::string& tag) {
  static int counter = 0;
  path_ = fs::temp_directory_path() / fmt::format("synclab-{}-{}-{}", tag, ::getpid(), counter++);
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {
void write(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  if (!out) throw std::runtime_error("cannot write " + p.string());
  out << text;
}
}  // namespace

void write_fixture_run(const fs::path& dir, const FixtureRun& r) {
  fs::create_directories(dir);
  std::string cfg = "model: cnn\ndata:\n  dataset: fashion-mnist\n  batch: 100\n";
  cfg += fmt::format("train:\n  seed: {}\n  eval_every: 2\n  stop: {{updates: 10}}\n", r.seed);
  cfg += fmt::format("policy:\n  name: {}\n", r.policy);
  if (r.staleness > 0) cfg += fmt::format("  staleness: {}\n", r.staleness);
  cfg += fmt::format("cluster:\n  workers: {}\n  link: {{bandwidth: {}, latency: 5.0e-05}}\n", r.workers,
                     r.bandwidth > 0 ? fmt::format("{:g}", r.bandwidth) : (r.backend == "real" ? "2.5e9" : "1.25e9"));
  cfg += fmt::format("sim:\n  mode: {}\n", r.backend == "real" ? "full" : "timing");
  write(dir / "config.yaml", cfg);
  std::string evals = "time_s,update,samples,test_loss,test_accuracy\n";
  std::string updates = "time_s,update,worker,staleness,loss\n";
  for (int u = 1; u <= 10; ++u) {
    const double t = u * r.step_s;
    const double acc = r.acc_scale * (0.5 + 0.04 * u) + 0.002 * static_cast<double>(r.seed);
    const std::int64_t s = r.max_staleness ? (u % (r.max_staleness + 1)) : 0;
    updates += fmt::format("{},{},{},{},{}\n", t, u, u % r.workers, s, 1.0 / u);
    if (u % 2 == 0 && r.with_evals) evals += fmt::format("{},{},{},{},{}\n", t, u, u * 100 * r.workers, 1.0 - acc, acc);
  }
  write(dir / "evals.csv", evals);
  write(dir / "updates.csv", updates);
  const double final_acc = r.acc_scale * 0.9 + 0.002 * static_cast<double>(r.seed);
  std::string wb;
  if (r.breakdown) {
    wb = ",\"per_worker\":[";
    for (int w = 0; w < r.workers; ++w)
      wb += fmt::format("{}{{\"worker\":{},\"compute_s\":{},\"wait_s\":{},\"communicate_s\":{}}}", w ? "," : "", w,
                        3.0 + w, 1.0 * w, 0.5);
    wb += "]";
  }
  write(dir / "summary.json",
        fmt::format("{{\"backend\":\"{}\",\"policy\":\"{}\",\"workers\":{},\"updates\":10,\"samples\":{},"
                    "\"time_s\":{},\"final_test_accuracy\":{},\"final_test_loss\":0.3,\"mean_staleness\":{},"
                    "\"max_staleness\":{},\"bytes_sent\":1000,\"final_params_sha256\":\"00\",\"stop_reason\":\"updates\"{}}}\n",
                    r.backend, r.policy, r.workers, 1000 * r.workers, 10 * r.step_s, final_acc,
                    r.max_staleness / 2.0, r.max_staleness, wb));
}

fs::path write_fixture_sweep(const fs::path& root) {
  const auto sweep = root / "policies";
  fs::create_directories(sweep);
  for (std::uint64_t seed : {1, 2}) {
    write_fixture_run(sweep / fmt::format("policy=bsp_seed={}", seed),
                      {.policy = "bsp", .seed = seed, .step_s = 0.5 + 0.1 * static_cast<double>(seed)});
    write_fixture_run(sweep / fmt::format("policy=ssp-staleness2_seed={}", seed),
                      {.policy = "ssp", .staleness = 2, .seed = seed, .step_s = 0.25, .acc_scale = 0.9, .max_staleness = 2});
  }
  write(sweep / "index.csv",
        "run,status,backend,policy,seed,error\n"
        "policy=bsp_seed=1,ok,sim,{name: bsp},1,\n"
        "policy=bsp_seed=2,ok,sim,{name: bsp},2,\n"
        "policy=ssp-staleness2_seed=1,ok,sim,\"{name: ssp, staleness: 2}\",1,\n"
        "policy=ssp-staleness2_seed=2,ok,sim,\"{name: ssp, staleness: 2}\",2,\n"
        "policy=boom_seed=1,failed,sim,{name: boom},1,\"exit code 1: policy.name: unknown policy 'boom'\"\n");
  // A real run and its simulated twin: same experiment, machine keys differ.
  write_fixture_run(root / "real-bsp", {.backend = "real", .policy = "bsp", .workers = 3, .seed = 7, .step_s = 0.4});
  write_fixture_run(root / "sim-bsp", {.backend = "sim", .policy = "bsp", .workers = 3, .seed = 7, .step_s = 0.5});
  return sweep;
}

fs::path write_fixture_sweep12(const fs::path& root) {
  const auto sweep = root / "policies12";
  fs::create_directories(sweep);
  std::string index = "run,status,backend,policy,seed,error\n";
  struct P {
    const char* name;
    int staleness;
    double step_s, acc_scale;
  };
  for (const P& p : {P{"bsp", 0, 0.6, 1.0}, P{"async", 0, 0.3, 0.97}, P{"ssp", 3, 0.4, 0.98}, P{"local-sgd", 0, 0.5, 0.95}})
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto name = fmt::format("policy={}_seed={}", p.name, seed);
      write_fixture_run(sweep / name, {.policy = p.name, .staleness = p.staleness, .workers = 4, .seed = seed,
                                       .step_s = p.step_s * (1 + 0.02 * static_cast<double>(seed)), .acc_scale = p.acc_scale,
                                       .max_staleness = p.staleness});
      index += fmt::format("{},ok,sim,{{name: {}}},{},\n", name, p.name, seed);
    }
  write(sweep / "index.csv", index);
  return sweep;
}

}  // namespace synclab::testing
