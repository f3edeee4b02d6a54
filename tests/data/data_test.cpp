// IDX reading (good and bad files), synthetic data, sharding and batch sampling.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/common/error.hpp"
#include "core/data/dataset.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string images_bytes(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, std::size_t drop = 0) {
  std::string s = be32(0x803) + be32(n) + be32(rows) + be32(cols);
  for (std::size_t i = 0; i < std::size_t{n} * rows * cols; ++i) s += static_cast<char>(i % 256);
  s.resize(s.size() - drop);
  return s;
}

std::string labels_bytes(std::uint32_t n, std::uint8_t max_label = 9) {
  std::string s = be32(0x801) + be32(n);
  for (std::uint32_t i = 0; i < n; ++i) s += static_cast<char>(i % (max_label + 1u));
  return s;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The pid keeps concurrent runs of this suite (other build trees) apart.
    dir_ = fs::temp_directory_path() / ("synclab-idx-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string raw(const std::string& name, const std::string& bytes) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  std::string gz(const std::string& name, const std::string& bytes) {
    const auto p = dir_ / name;
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return p.string();
  }
  // The DataError message of reading (images, labels), or "" if it read.
  static std::string read_error(const std::string& images, const std::string& labels) {
    try {
      read_idx(images, labels, "t");
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(IdxTest, ReadsRawAndGzip) {
  for (bool compressed : {false, true}) {
    const auto img = compressed ? gz("i.gz", images_bytes(5, 4, 3)) : raw("i", images_bytes(5, 4, 3));
    const auto lab = compressed ? gz("l.gz", labels_bytes(5)) : raw("l", labels_bytes(5));
    const Dataset d = read_idx(img, lab, "tiny");
    EXPECT_EQ(d.name, "tiny");
    EXPECT_EQ(d.size(), 5u);
    EXPECT_EQ(d.h, 4);
    EXPECT_EQ(d.w, 3);
    EXPECT_EQ(d.sample_size(), 12u);
    ASSERT_EQ(d.x.size(), 60u);
    EXPECT_FLOAT_EQ(d.x[0], 0.0f);
    EXPECT_FLOAT_EQ(d.x[51], 51.0f / 255.0f);
    EXPECT_EQ(d.y[3], 3);
    const Batch b = d.slice(2, 2);
    EXPECT_EQ(b.n, 2u);
    EXPECT_EQ(b.x, d.x.data() + 24);
    EXPECT_EQ(b.y[0], 2);
    EXPECT_THROW(d.slice(4, 2), Error);
  }
}

TEST_F(IdxTest, LimitReadsAPrefix) {
  const Dataset d = read_idx(gz("i.gz", images_bytes(10, 2, 2)), gz("l.gz", labels_bytes(10)), "t", 4);
  EXPECT_EQ(d.size(), 4u);
  EXPECT_EQ(d.x.size(), 16u);
}

TEST_F(IdxTest, MissingFileIsNamed) {
  const auto lab = raw("l", labels_bytes(5));
  const std::string e = read_error((dir_ / "nope.gz").string(), lab);
  EXPECT_NE(e.find("nope.gz"), std::string::npos) << e;
  EXPECT_NE(e.find("no such file"), std::string::npos) << e;
}

TEST_F(IdxTest, TruncatedFilesAreNamed) {
  const auto lab = raw("l", labels_bytes(5));
  std::string e = read_error(gz("short.gz", images_bytes(5, 4, 3, 7)), lab);
  EXPECT_NE(e.find("short.gz"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  e = read_error(raw("header", be32(0x803) + be32(5)), lab);
  EXPECT_NE(e.find("header"), std::string::npos) << e;
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  std::string labels = labels_bytes(5);
  labels.pop_back();
  e = read_error(raw("i", images_bytes(5, 4, 3)), raw("lshort", labels));
  EXPECT_NE(e.find("lshort"), std::string::npos) << e;
}

TEST_F(IdxTest, WrongMagicIsNamed) {
  const auto lab = raw("l", labels_bytes(5));
  // Labels given where images belong, and the other way round.
  std::string e = read_error(lab, lab);
  EXPECT_NE(e.find("wrong magic 0x00000801"), std::string::npos) << e;
  const auto img = raw("i", images_bytes(5, 4, 3));
  e = read_error(img, img);
  EXPECT_NE(e.find("wrong magic 0x00000803"), std::string::npos) << e;
  e = read_error(raw("text", "hello, world, this is not IDX"), lab);
  EXPECT_NE(e.find("text: wrong magic"), std::string::npos) << e;
}

TEST_F(IdxTest, CountMismatchNamesTheLabels) {
  const std::string e = read_error(raw("i", images_bytes(5, 4, 3)), raw("l6", labels_bytes(6)));
  EXPECT_NE(e.find("l6: holds 6 labels"), std::string::npos) << e;
  EXPECT_NE(e.find("5 images"), std::string::npos) << e;
}

TEST_F(IdxTest, TrailingDataAndBadLabelsAndCorruptGzip) {
  const auto lab = raw("l", labels_bytes(5));
  std::string e = read_error(raw("long", images_bytes(5, 4, 3) + "xx"), lab);
  EXPECT_NE(e.find("long: has more data"), std::string::npos) << e;
  e = read_error(raw("i12", images_bytes(12, 4, 3)), raw("l12", labels_bytes(12, 12)));
  EXPECT_NE(e.find("l12: label 10"), std::string::npos) << e;
  // A valid gzip header followed by garbage.
  std::string bad = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03";
  bad += std::string(64, '\x7f');
  e = read_error(raw("corrupt.gz", bad), lab);
  EXPECT_NE(e.find("corrupt.gz"), std::string::npos) << e;
  e = read_error(raw("zero", be32(0x803) + be32(0) + be32(4) + be32(3)), lab);
  EXPECT_NE(e.find("zero: implausible dimensions"), std::string::npos) << e;
}

// Peak resident memory of this process in bytes (each test runs in its own process).
long peak_rss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss * 1024L;
}

// Bytes zlib cannot shrink: a deterministic pseudo-random sequence.
std::string noise(std::size_t n) {
  std::string s(n, '\0');
  std::uint32_t x = 12345;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

TEST_F(IdxTest, HeaderCountsAreCheckedAgainstTheFileBeforeAllocating) {
  const auto lab = raw("l", labels_bytes(5));
  // 3 million 28x28 images claimed by a file of a few bytes: refused, nothing allocated.
  const long before = peak_rss();
  std::string e = read_error(raw("liar", be32(0x803) + be32(3'000'000) + be32(28) + be32(28) + std::string(100, 'x')), lab);
  EXPECT_NE(e.find("liar: truncated: the header declares 3000000 images of 28x28 (2352000016 bytes) but the file has 116 bytes"),
            std::string::npos) << e;
  // 100 million: the most the reader accepts, still named and refused from the size alone.
  e = read_error(raw("huge", be32(0x803) + be32(100'000'000) + be32(28) + be32(28)), lab);
  EXPECT_NE(e.find("huge: truncated: the header declares 100000000 images"), std::string::npos) << e;
  // gzip: a claim no deflate stream of that size can inflate to.
  e = read_error(gz("huge.gz", be32(0x803) + be32(100'000'000) + be32(28) + be32(28)), lab);
  EXPECT_NE(e.find("huge.gz: the header declares 100000000 images of 28x28"), std::string::npos) << e;
  EXPECT_NE(e.find("gzip file can hold"), std::string::npos) << e;
  // The labels' count is checked too.
  e = read_error(raw("i", images_bytes(5, 4, 3)), raw("lliar", be32(0x801) + be32(5)));
  EXPECT_NE(e.find("lliar: truncated: the header declares 5 labels"), std::string::npos) << e;
  EXPECT_LT(peak_rss() - before, 64L << 20);
}

TEST_F(IdxTest, AGzipHeaderThatOverstatesCostsOnlyWhatTheFileHolds) {
  // 1 MB of incompressible pixels behind a header claiming 300,000 images (235 MB): within
  // what a 1 MB gzip file could inflate to, so only reading finds the lie.
  const auto img = gz("short.gz", be32(0x803) + be32(300'000) + be32(28) + be32(28) + noise(1 << 20));
  const auto lab = gz("l.gz", labels_bytes(300'000));
  const long before = peak_rss();
  const std::string e = read_error(img, lab);
  EXPECT_NE(e.find("short.gz: truncated: the pixel data ends after 1048576 of 235200000 bytes"), std::string::npos) << e;
  EXPECT_LT(peak_rss() - before, 100L << 20);
}

TEST_F(IdxTest, TrailingGzipGarbageIsRefusedAndConcatenatedMembersRead) {
  const auto lab = raw("l", labels_bytes(5));
  const std::string member = [&] {
    gz("tmp.gz", images_bytes(5, 4, 3));
    std::ifstream in(dir_ / "tmp.gz", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  std::string e = read_error(raw("junk.gz", member + "junk appended"), lab);
  EXPECT_NE(e.find("junk.gz: has data after the end of its gzip stream"), std::string::npos) << e;
  e = read_error(raw("one.gz", member + "\x1f"), lab);
  EXPECT_NE(e.find("one.gz: has data after the end of its gzip stream"), std::string::npos) << e;
  // gzip's own rule: members may follow each other (cat a.gz b.gz); the data runs on.
  const std::string all = images_bytes(5, 4, 3);
  gz("head.gz", all.substr(0, 30));
  gz("tail.gz", all.substr(30));
  std::ifstream h(dir_ / "head.gz", std::ios::binary), t(dir_ / "tail.gz", std::ios::binary);
  const std::string two = std::string(std::istreambuf_iterator<char>(h), {}) + std::string(std::istreambuf_iterator<char>(t), {});
  const Dataset d = read_idx(raw("two.gz", two), lab, "t");
  EXPECT_EQ(d.size(), 5u);
  EXPECT_FLOAT_EQ(d.x[59], 59.0f / 255.0f);
}

TEST_F(IdxTest, NonRegularFilesAreRefusedWithoutBlocking) {
  const auto lab = raw("l", labels_bytes(5));
  const auto fifo = dir_ / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string e = read_error(fifo.string(), lab);  // no writer: a plain open would wait forever
  EXPECT_NE(e.find("fifo: is a FIFO, not a regular file"), std::string::npos) << e;
  fs::create_directories(dir_ / "adir");
  e = read_error((dir_ / "adir").string(), lab);
  EXPECT_NE(e.find("adir: is a directory, not a regular file"), std::string::npos) << e;
  e = read_error(raw("i", images_bytes(5, 4, 3)), "/dev/zero");
  EXPECT_NE(e.find("/dev/zero: is a character device, not a regular file"), std::string::npos) << e;
}

TEST_F(IdxTest, LoadDataFromADirectory) {
  raw("train-images-idx3-ubyte", images_bytes(20, 28, 28));
  raw("train-labels-idx1-ubyte", labels_bytes(20));
  gz("t10k-images-idx3-ubyte.gz", images_bytes(7, 28, 28));
  gz("t10k-labels-idx1-ubyte.gz", labels_bytes(7));
  DataSpec spec;
  spec.dataset = "mnist";
  spec.dir = dir_.string();
  spec.train_limit = 12;
  const DataSplit s = load_data(spec, 1);
  EXPECT_EQ(s.train.size(), 12u);
  EXPECT_EQ(s.test.size(), 7u);
  EXPECT_EQ(s.train.name, "mnist");
  fs::remove(dir_ / "t10k-labels-idx1-ubyte.gz");
  try {
    load_data(spec, 1);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte.gz: no such file"), std::string::npos) << e.what();
  }
  spec.dir = (dir_ / "absent").string();
  EXPECT_THROW(load_data(spec, 1), DataError);
}

TEST(FashionMnist, DefaultLocationReads) {
  if (!fs::exists(kDefaultFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  DataSpec spec;
  spec.train_limit = 1000;
  spec.test_limit = 500;
  const DataSplit s = load_data(spec, 1);
  EXPECT_EQ(s.train.size(), 1000u);
  EXPECT_EQ(s.test.size(), 500u);
  EXPECT_EQ(s.train.sample_size(), 784u);
  std::set<int> labels(s.train.y.begin(), s.train.y.end());
  EXPECT_EQ(labels.size(), 10u);
  const auto [lo, hi] = std::minmax_element(s.train.x.begin(), s.train.x.end());
  EXPECT_GE(*lo, 0.0f);
  EXPECT_LE(*hi, 1.0f);
}

TEST(Synthetic, DeterministicAndClassDependent) {
  const Dataset a = make_synthetic(500, 7, 0), b = make_synthetic(500, 7, 0), c = make_synthetic(500, 8, 0);
  EXPECT_EQ(a.x, b.x);
  EXPECT_EQ(a.y, b.y);
  EXPECT_NE(a.x, c.x);
  // Nearest class mean (from the training split) classifies the test split well above chance.
  const Dataset test = make_synthetic(200, 7, 1);
  const std::size_t ss = a.sample_size();
  std::vector<double> mean(10 * ss, 0.0);
  std::vector<int> count(10, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    ++count[a.y[i]];
    for (std::size_t j = 0; j < ss; ++j) mean[a.y[i] * ss + j] += a.x[i * ss + j];
  }
  for (int k = 0; k < 10; ++k) {
    ASSERT_GT(count[k], 0);
    for (std::size_t j = 0; j < ss; ++j) mean[k * ss + j] /= count[k];
  }
  int correct = 0;
  for (std::size_t i = 0; i < test.size(); ++i) {
    int best = 0;
    double best_d = 1e300;
    for (int k = 0; k < 10; ++k) {
      double d = 0;
      for (std::size_t j = 0; j < ss; ++j) d += (test.x[i * ss + j] - mean[k * ss + j]) * (test.x[i * ss + j] - mean[k * ss + j]);
      if (d < best_d) best_d = d, best = k;
    }
    correct += best == test.y[i];
  }
  EXPECT_GT(correct, 100);
}

TEST(Sharding, IidIsAnEvenSeededPartition) {
  const Dataset d = make_synthetic(1003, 1, 0);
  const auto shards = shard_indices(d, 4, Sharding::Iid, 2, 5);
  ASSERT_EQ(shards.size(), 4u);
  std::vector<int> seen(d.size(), 0);
  for (const auto& s : shards) {
    EXPECT_GE(s.size(), 250u);
    EXPECT_LE(s.size(), 251u);
    for (auto i : s) ++seen[i];
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int v) { return v == 1; }));
  EXPECT_EQ(shards, shard_indices(d, 4, Sharding::Iid, 2, 5));
  EXPECT_NE(shards, shard_indices(d, 4, Sharding::Iid, 2, 6));
  EXPECT_THROW(shard_indices(make_synthetic(3, 1, 0), 4, Sharding::Iid, 2, 5), Error);
}

TEST(Sharding, NonIidGivesEachWorkerItsClasses) {
  const Dataset d = make_synthetic(2000, 1, 0);
  const auto shards = shard_indices(d, 8, Sharding::NonIid, 2, 5);
  ASSERT_EQ(shards.size(), 8u);
  std::vector<int> seen(d.size(), 0);
  for (int w = 0; w < 8; ++w) {
    std::set<int> labels;
    for (auto i : shards[w]) {
      labels.insert(d.y[i]);
      ++seen[i];
    }
    EXPECT_EQ(labels, (std::set<int>{(2 * w) % 10, (2 * w + 1) % 10})) << "worker " << w;
  }
  // 8 workers x 2 classes cover all 10 classes: every sample lands exactly once.
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int v) { return v == 1; }));
  EXPECT_EQ(shards, shard_indices(d, 8, Sharding::NonIid, 2, 5));
  EXPECT_THROW(shard_indices(d, 8, Sharding::NonIid, 11, 5), ConfigError);
}

TEST(BatchSampler, DeterministicEpochsCoverEverySample) {
  const Dataset d = make_synthetic(40, 1, 0);
  std::vector<std::uint32_t> idx(40);
  for (std::uint32_t i = 0; i < 40; ++i) idx[i] = i;
  BatchSampler a(d, idx, 8, 3), b(d, idx, 8, 3), c(d, idx, 8, 4);
  std::vector<std::vector<std::uint8_t>> epochs(2);
  std::vector<float> firsts_a, firsts_c;
  for (int step = 0; step < 10; ++step) {
    const Batch ba = a.next(), bb = b.next(), bc = c.next();
    ASSERT_EQ(ba.n, 8u);
    EXPECT_TRUE(std::equal(ba.x, ba.x + 8 * d.sample_size(), bb.x));
    EXPECT_TRUE(std::equal(ba.y, ba.y + 8, bb.y));
    for (std::size_t k = 0; k < 8; ++k) {
      firsts_a.push_back(ba.x[k * d.sample_size()]);
      firsts_c.push_back(bc.x[k * d.sample_size()]);
    }
  }
  EXPECT_NE(firsts_a, firsts_c);
  EXPECT_EQ(a.samples_drawn(), 80u);
  // Each epoch of 40 draws is a permutation of the 40 samples, in a new order each time.
  auto first_pixel = [&](std::size_t i) { return d.x[i * d.sample_size()]; };
  std::vector<float> all;
  for (std::size_t i = 0; i < 40; ++i) all.push_back(first_pixel(i));
  std::sort(all.begin(), all.end());
  for (int e = 0; e < 2; ++e) {
    std::vector<float> got(firsts_a.begin() + e * 40, firsts_a.begin() + (e + 1) * 40);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, all) << "epoch " << e;
  }
  EXPECT_FALSE(std::equal(firsts_a.begin(), firsts_a.begin() + 40, firsts_a.begin() + 40));
  // A batch larger than the shard wraps around epochs.
  BatchSampler small(d, {1, 2, 3}, 5, 1);
  EXPECT_EQ(small.next().n, 5u);
  EXPECT_EQ(small.epoch(), 1u);
  EXPECT_THROW(BatchSampler(d, {}, 5, 1), Error);
}

}  // namespace
}  // namespace synclab
