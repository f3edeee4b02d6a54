#include "experiments/vega_bundle.hpp"

#include <cstdlib>

#include "core/common/error.hpp"
#include "experiments/csv.hpp"

#ifndef SYNCLAB_VEGA_DIR
#define SYNCLAB_VEGA_DIR "/usr/share/javascript/vega"
#endif

namespace synclab::experiments {
namespace fs = std::filesystem;

const std::vector<std::string>& vega_modules() {
  // Each module only needs modules listed before it (from the require() lists of the
  // Debian files); geo, force, hierarchy and friends are left out: reports do not use them.
  static const std::vector<std::string> mods = {
      "vega-util",      "vega-time",       "vega-format",     "vega-loader",         "vega-dataflow",
      "vega-scale",     "vega-canvas",     "vega-scenegraph", "vega-expression",     "vega-selection",
      "vega-statistics","vega-functions",  "vega-event-selector", "vega-parser",     "vega-runtime",
      "vega-view",      "vega-transforms", "vega-view-transforms", "vega-encode"};
  return mods;
}

fs::path vega_dir() {
  if (const char* env = std::getenv("SYNCLAB_VEGA_DIR"); env && *env) return env;
  return SYNCLAB_VEGA_DIR;
}

std::string vega_script() {
  const auto dir = vega_dir();
  // The modules are UMD builds: given an AMD-style define(), each hands its exports to us
  // instead of overwriting a shared global. `vega-selections` is the upstream name of the
  // module Debian ships as vega-selection.
  std::string js =
      "(function(){\"use strict\";var mods={},cur=null,alias={\"vega-selections\":\"vega-selection\"};\n"
      "function define(deps,factory){var ex={};var args=deps.map(function(d){if(d===\"exports\")return ex;"
      "var n=alias[d]||d;if(!(n in mods))throw new Error(\"vega module \"+d+\" is needed by \"+cur+\" but not loaded\");"
      "return mods[n];});factory.apply(null,args);mods[cur]=ex;}\ndefine.amd={};\n";
  for (const auto& m : vega_modules()) {
    const auto file = dir / (m + ".min.js");
    if (!fs::exists(file))
      throw Error(file.string() + ": missing; install the Debian package libjs-vega (or set SYNCLAB_VEGA_DIR)");
    auto text = read_text(file);
    // Keep the inline <script> element intact whatever the library text holds.
    for (std::size_t pos = 0; (pos = text.find("</script", pos)) != std::string::npos; pos += 2) text.replace(pos, 2, "<\\/");
    js += "cur=\"" + m + "\";\n" + text + "\n;\n";
  }
  js +=
      "var v={};[\"vega-statistics\",\"vega-time\",\"vega-util\",\"vega-loader\",\"vega-scenegraph\",\"vega-dataflow\","
      "\"vega-scale\",\"vega-format\",\"vega-functions\",\"vega-parser\",\"vega-runtime\",\"vega-view\"]"
      ".forEach(function(m){Object.assign(v,mods[m]);});\n"
      // What the upstream vega bundle does on load: register every transform with the dataflow.
      "Object.assign(mods[\"vega-dataflow\"].transforms,mods[\"vega-transforms\"],mods[\"vega-view-transforms\"],"
      "mods[\"vega-encode\"]);\n"
      "window.vega=v;})();\n";
  return js;
}

}  // namespace synclab::experiments
