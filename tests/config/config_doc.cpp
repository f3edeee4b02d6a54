// Prints the config key table of docs/config.md (between its keys:begin/end markers).
#include <iostream>

#include "core/config/config_schema.hpp"

int main() {
  std::cout << synclab::config_keys_markdown();
  return 0;
}
