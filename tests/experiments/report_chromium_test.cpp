// The HTML report rendered by headless Chromium: every chart drawn, no console errors.
#include <cstdio>
#include <cstdlib>
#include <regex>

#include <gtest/gtest.h>

#include "experiments/csv.hpp"
#include "experiments/report_writer.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;
namespace fs = std::filesystem;

namespace {

std::string find_chromium() {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    std::size_t start = 0;
    while (start <= p.size()) {
      const auto end = p.find(':', start);
      const fs::path dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!dir.empty() && fs::exists(dir / name)) return (dir / name).string();
      if (end == std::string::npos) break;
      start = end + 1;
    }
  }
  return "";
}

std::string attr(const std::string& dom, const std::string& tag_start, const std::string& name) {
  const std::regex re(tag_start + "[^>]*\\s" + name + "=\"([^\"]*)\"");
  std::smatch m;
  return std::regex_search(dom, m, re) ? m[1].str() : std::string("<absent>");
}

}  // namespace

TEST(ReportChromium, EveryChartRendersWithoutConsoleErrors) {
  const auto chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (scripts/install-deps.sh installs it with SYNCLAB_TEST_DEPS=1)";
  synclab::testing::TempDir tmp("chromium");
  const auto sweep = synclab::testing::write_fixture_sweep(tmp.path());
  const auto model = ex::build_report_model({sweep, tmp.path() / "real-bsp", tmp.path() / "sim-bsp"}, {});
  const auto charts = ex::build_charts(model);
  const auto files = ex::write_report(model, tmp.path() / "report.html");

  // --virtual-time-budget lets the page's promises settle before the DOM is dumped.
  const auto dom_file = tmp.path() / "dom.html";
  const std::string cmd = "'" + chromium + "' --headless --no-sandbox --disable-gpu --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync "
                          "--disable-dev-shm-usage --user-data-dir='" + (tmp.path() / "profile").string() +
                          "' --virtual-time-budget=20000 --dump-dom 'file://" + files.html.string() + "' > '" +
                          dom_file.string() + "' 2> '" + (tmp.path() / "chromium.log").string() + "'";
  const int rc = std::system(("timeout 120 " + cmd).c_str());
  ASSERT_EQ(rc, 0) << "chromium failed: " << ex::read_text(tmp.path() / "chromium.log");
  const auto dom = ex::read_text(dom_file);
  ASSERT_FALSE(dom.empty());

  EXPECT_EQ(attr(dom, "<html", "data-errors"), "0") << "console errors: " << dom.substr(dom.find("report-errors"), 2000);
  EXPECT_EQ(attr(dom, "<body", "data-charts-total"), std::to_string(charts.size()));
  EXPECT_EQ(attr(dom, "<body", "data-charts-rendered"), std::to_string(charts.size()));
  for (const auto& c : charts) {
    const auto pos = dom.find("id=\"chart-" + c.id + "\"");
    ASSERT_NE(pos, std::string::npos) << c.id;
    const auto end = dom.find("</div>", pos);
    const auto block = dom.substr(pos, end - pos);
    EXPECT_NE(block.find("data-rendered=\"1\""), std::string::npos) << c.id;
    EXPECT_NE(block.find("<svg"), std::string::npos) << c.id << " drew no SVG";
    // Drawn marks: lines/areas are <path>, bars are <path> too in Vega's SVG renderer.
    EXPECT_NE(block.find("<path"), std::string::npos) << c.id << " has no marks";
  }
}
