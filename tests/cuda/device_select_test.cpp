// Device selection: "auto" | "cpu" | "cuda" | "cuda:N" against a given GPU count, for real
// workers and for in-process runs (with train.backend).
#include <gtest/gtest.h>

#include <string>

#include "core/backends/device.hpp"
#include "core/common/error.hpp"

namespace synclab {
namespace {

std::string error_of(std::string_view request, int gpus) {
  try {
    resolve_device(request, gpus, "worker.device");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DeviceSelect, AutoPicksTheFirstGpuWhenPresent) {
  const DeviceChoice c = resolve_device("auto", 2);
  EXPECT_EQ(c.backend, BackendKind::Cuda);
  EXPECT_EQ(c.ordinal, 0);
  EXPECT_EQ(c.label(), "cuda:0");
}

TEST(DeviceSelect, AutoFallsBackToTheCpuBackend) {
  const DeviceChoice c = resolve_device("auto", 0);
  EXPECT_EQ(c.backend, BackendKind::Fast);
  EXPECT_EQ(c.label(), "cpu");
  EXPECT_EQ(resolve_device("auto", 0, "worker.device", BackendKind::Reference).backend, BackendKind::Reference);
}

TEST(DeviceSelect, CpuIgnoresGpus) {
  EXPECT_EQ(resolve_device("cpu", 4).backend, BackendKind::Fast);
}

TEST(DeviceSelect, CudaOrdinals) {
  EXPECT_EQ(resolve_device("cuda", 1).label(), "cuda:0");
  const DeviceChoice c = resolve_device("cuda:3", 4);
  EXPECT_EQ(c.backend, BackendKind::Cuda);
  EXPECT_EQ(c.ordinal, 3);
}

TEST(DeviceSelect, GpuAskedWhereNoneIsPresentIsOneLineNamingTheKey) {
  for (const char* request : {"cuda", "cuda:0"}) {
    const std::string msg = error_of(request, 0);
    ASSERT_FALSE(msg.empty()) << request;
    EXPECT_EQ(msg.rfind("worker.device: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(request), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(DeviceSelect, OrdinalBeyondTheDeviceCountIsRejected) {
  const std::string msg = error_of("cuda:2", 2);
  EXPECT_NE(msg.find("GPU 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("only 2"), std::string::npos) << msg;
}

TEST(DeviceSelect, MalformedRequestsAreRejected) {
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "CUDA", ""})
    EXPECT_FALSE(error_of(bad, 8).empty()) << "'" << bad << "'";
  EXPECT_NE(error_of("gpu", 1).find("expected auto, cpu, cuda or cuda:N"), std::string::npos);
}

TEST(DeviceSelect, KeyIsTheCallersFlagName) {
  try {
    resolve_device("tpu", 0, "--device");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "--device");
  }
}

TEST(DeviceSelect, SelectDeviceMatchesTheProbedCount) {
  // On a machine without a GPU (or a CPU-only build) auto must land on the CPU.
  const int gpus = available_gpu_count();
  EXPECT_GE(gpus, 0);
  const DeviceChoice c = select_device("auto");
  EXPECT_EQ(c.backend == BackendKind::Cuda, gpus > 0);
  if (gpus == 0) {
    EXPECT_THROW(select_device("cuda"), ConfigError);
    EXPECT_THROW(make_network(make_model_spec("softmax"), BackendKind::Cuda), Error);
  }
}

// train and sim (full mode) in one process: worker.device together with train.backend.
TEST(RunDevice, AutoLeavesTheChoiceToTrainBackend) {
  EXPECT_EQ(resolve_run_device("auto", "fast", 2).label(), "cpu");
  EXPECT_EQ(resolve_run_device("auto", "reference", 2).backend, BackendKind::Reference);
  EXPECT_EQ(resolve_run_device("auto", "cuda", 2).label(), "cuda:0");
}

TEST(RunDevice, AGpuRequestIsHonouredOrRefusedNeverIgnored) {
  const DeviceChoice c = resolve_run_device("cuda:1", "fast", 2);
  EXPECT_EQ(c.backend, BackendKind::Cuda);
  EXPECT_EQ(c.ordinal, 1);
  EXPECT_EQ(resolve_run_device("cuda", "reference", 1).label(), "cuda:0");
  for (const char* request : {"cuda", "cuda:0"}) {
    try {
      resolve_run_device(request, "fast", 0);
      FAIL() << request << " resolved without a GPU";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.key(), "worker.device");
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  try {
    resolve_run_device("auto", "cuda", 0);
    FAIL() << "train.backend cuda resolved without a GPU";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "train.backend");
  }
}

TEST(RunDevice, CpuKeepsTheCpuBackendAndContradictsCuda) {
  EXPECT_EQ(resolve_run_device("cpu", "reference", 4).backend, BackendKind::Reference);
  EXPECT_EQ(resolve_run_device("cpu", "fast", 4).backend, BackendKind::Fast);
  try {
    resolve_run_device("cpu", "cuda", 4);
    FAIL() << "cpu with train.backend cuda";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "worker.device");
    EXPECT_NE(std::string(e.what()).find("train.backend"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace synclab
