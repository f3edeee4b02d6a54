# Every dependency is a Debian package; scripts/install-deps.sh installs them.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(dnnl REQUIRED)
# OpenBLAS must come before SimGrid on the link line: libsimgrid drags in libgslcblas,
# which also exports cblas_* and would silently win otherwise.
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(SIMGRID REQUIRED IMPORTED_TARGET simgrid>=3.32)
pkg_check_modules(LIBMNL REQUIRED IMPORTED_TARGET libmnl)
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
add_library(synclab_asio INTERFACE)
target_include_directories(synclab_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
# Asio decides whether its aligned_new/aligned_delete use aligned_alloc/free or operator
# new/delete from _GLIBCXX_HAVE_ALIGNED_ALLOC, which is defined only if a standard header
# came first: translation units that include Asio first and those that do not would pair
# operator new with free (ASan: alloc-dealloc-mismatch). One choice for every unit.
target_compile_definitions(synclab_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED ASIO_DISABLE_STD_ALIGNED_ALLOC)
target_link_libraries(synclab_asio INTERFACE Threads::Threads)
if(SYNCLAB_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(SYNCLAB_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
