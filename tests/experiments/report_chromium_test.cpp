// The HTML report rendered by headless Chromium: every chart drawn, no console errors, the
// recommendation names a config of the table, and the page makes no network request.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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

// Renders the page in headless Chromium and returns its DOM after the scripts ran; the
// browser's network log goes to net_log.
std::string render(const std::string& chromium, const fs::path& html, const fs::path& work, const fs::path& net_log) {
  // --virtual-time-budget lets the page's promises settle before the DOM is dumped.
  const auto dom_file = work / "dom.html";
  const std::string cmd = "'" + chromium + "' --headless --no-sandbox --disable-gpu --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync "
                          "--disable-dev-shm-usage --user-data-dir='" + (work / "profile").string() +
                          "' --log-net-log='" + net_log.string() + "' --virtual-time-budget=20000 --dump-dom 'file://" +
                          html.string() + "' > '" + dom_file.string() + "' 2> '" + (work / "chromium.log").string() + "'";
  const int rc = std::system(("timeout 120 " + cmd).c_str());
  if (rc != 0) throw std::runtime_error("chromium failed: " + ex::read_text(work / "chromium.log"));
  return ex::read_text(dom_file);
}

void expect_charts_rendered(const std::string& dom, const std::vector<ex::Chart>& charts) {
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

// URLs of the requests the page started, from Chromium's NetLog: URL_REQUEST_START_JOB
// events whose initiator is the page (a file:// page is the opaque origin "null"); the
// browser's own background requests carry the initiator "not an origin".
std::vector<std::string> page_requests(const fs::path& net_log) {
  const auto log = nlohmann::json::parse(ex::read_text(net_log));
  const auto& types = log.at("constants").at("logEventTypes");
  if (!types.contains("URL_REQUEST_START_JOB")) throw std::runtime_error("NetLog without URL_REQUEST_START_JOB");
  const int start_job = types.at("URL_REQUEST_START_JOB").get<int>();
  std::vector<std::string> urls;
  for (const auto& e : log.value("events", nlohmann::json::array())) {
    if (e.value("type", -1) != start_job || !e.contains("params")) continue;
    const auto& p = e["params"];
    // The job's end event repeats the type without parameters.
    if (p.contains("url") && p.value("initiator", std::string()) != "not an origin") urls.push_back(p["url"].get<std::string>());
  }
  return urls;
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
  const auto dom = render(chromium, files.html, tmp.path(), tmp.path() / "net.json");
  ASSERT_FALSE(dom.empty());
  expect_charts_rendered(dom, charts);
}

TEST(ReportChromium, TwelveRunSweepRecommendsATableConfigOffline) {
  const auto chromium = find_chromium();
  if (chromium.empty()) GTEST_SKIP() << "chromium not installed (scripts/install-deps.sh installs it with SYNCLAB_TEST_DEPS=1)";
  synclab::testing::TempDir tmp("chromium12");
  const auto sweep = synclab::testing::write_fixture_sweep12(tmp.path());
  const auto model = ex::build_report_model({sweep}, {});
  ASSERT_EQ(model.runs.size(), 12u);
  const auto charts = ex::build_charts(model);
  const auto files = ex::write_report(model, tmp.path() / "report.html");
  const auto dom = render(chromium, files.html, tmp.path(), tmp.path() / "net.json");
  ASSERT_FALSE(dom.empty());
  expect_charts_rendered(dom, charts);

  // The recommendation is on the rendered page and names a config of the results table.
  ASSERT_NE(dom.find("<section id=\"recommendation\""), std::string::npos);
  const auto config = attr(dom, "<section id=\"recommendation\"", "data-config");
  const auto policy = attr(dom, "<section id=\"recommendation\"", "data-policy");
  EXPECT_EQ(config, "async");  // the fixture's async is the fastest to the target in every seed
  EXPECT_EQ(policy, "async");
  EXPECT_EQ(attr(dom, "<section id=\"recommendation\"", "data-certainty"), "clear");
  EXPECT_NE(dom.find("<tr><td>" + config + "</td>"), std::string::npos) << "config '" << config << "' not in a table";
  const auto section = dom.substr(dom.find("<section id=\"recommendation\""));
  EXPECT_NE(section.substr(0, section.find("</section>")).find("Deploy " + config), std::string::npos);

  // Offline: the page started no request (its Content-Security-Policy would also have blocked
  // one and counted it in data-errors, checked above).
  ASSERT_TRUE(fs::exists(tmp.path() / "net.json")) << "chromium wrote no network log";
  const auto urls = page_requests(tmp.path() / "net.json");
  EXPECT_TRUE(urls.empty()) << urls.size() << " requests by the page, first: " << (urls.empty() ? "" : urls.front());
  // The detector itself: a page that loads an image from the network is caught.
  {
    std::ofstream(tmp.path() / "probe.html") << "<html><body><img src=\"http://127.0.0.1:9/probe.png\"></body></html>";
  }
  fs::remove_all(tmp.path() / "profile");
  render(chromium, tmp.path() / "probe.html", tmp.path(), tmp.path() / "probe-net.json");
  const auto probe = page_requests(tmp.path() / "probe-net.json");
  ASSERT_EQ(probe.size(), 1u);
  EXPECT_EQ(probe[0], "http://127.0.0.1:9/probe.png");
}
