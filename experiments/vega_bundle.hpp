#pragma once
// Vega from Debian's libjs-vega, inlined into reports. The package ships Vega as separate
// UMD modules (vega-util.min.js, vega-view.min.js, ...) and no single bundle, so the report
// carries a tiny module loader that wires them together and exposes `window.vega`.
#include <filesystem>
#include <string>
#include <vector>

namespace synclab::experiments {

/// The modules inlined, in dependency order (file stem under the Vega directory).
const std::vector<std::string>& vega_modules();

/// Directory searched: $SYNCLAB_VEGA_DIR if set, else /usr/share/javascript/vega.
std::filesystem::path vega_dir();

/// One script (no <script> tags) defining window.vega from the module files. Throws Error
/// naming the missing file and the package to install when a module is absent.
std::string vega_script();

}  // namespace synclab::experiments
