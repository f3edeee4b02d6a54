#include "experiments/train_loss.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "experiments/csv.hpp"

namespace synclab::experiments {

std::vector<TrainLossPoint> read_train_loss(const std::filesystem::path& updates_csv) {
  std::vector<TrainLossPoint> out;
  std::ifstream in(updates_csv);
  std::string line;
  if (!in || !std::getline(in, line)) return out;
  const auto header = split_csv_line(line);
  auto column = [&](const char* name) {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int ct = column("time_s"), cu = column("update"), cl = column("loss");
  if (ct < 0 || cu < 0 || cl < 0) return out;
  const int last = std::max({ct, cu, cl});
  std::size_t rows_in_point = 0;
  while (std::getline(in, line)) {
    // updates.csv can hold hundreds of thousands of rows: parse the three fields in place.
    double fields[3] = {0, 0, NAN};
    const char* p = line.c_str();
    bool ok = true;
    for (int c = 0; c <= last && ok; ++c) {
      char* end = nullptr;
      const double v = std::strtod(p, &end);
      if (c == ct) fields[0] = v;
      if (c == cu) fields[1] = v;
      if (c == cl) fields[2] = end == p ? NAN : v;
      const char* comma = std::strchr(p, ',');
      if (c < last) {
        if (!comma) ok = false;
        else p = comma + 1;
      }
    }
    if (!ok || !std::isfinite(fields[2])) continue;
    const auto update = static_cast<std::uint64_t>(fields[1]);
    if (out.empty() || out.back().update != update) {
      if (!out.empty()) out.back().loss /= static_cast<double>(rows_in_point);
      out.push_back({update, fields[0], 0.0});
      rows_in_point = 0;
    }
    out.back().time_s = fields[0];
    out.back().loss += fields[2];
    ++rows_in_point;
  }
  if (!out.empty()) out.back().loss /= static_cast<double>(rows_in_point);
  return out;
}

}  // namespace synclab::experiments
