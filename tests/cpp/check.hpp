// A tiny in-house test harness (nothing can be downloaded, so no external framework):
// TEST(name) { ... } registers a test; CHECK(cond) and CHECK_NEAR(a, b, tol) record failures
// without stopping the test; run_all() runs every test and returns the process exit code.
#pragma once

#include <cmath>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace emkit_test {

using TestFunction = void (*)();

inline std::vector<std::pair<const char*, TestFunction>>& registry() {
  static std::vector<std::pair<const char*, TestFunction>> tests;
  return tests;
}

inline int& current_failures() {
  static int failures = 0;
  return failures;
}

inline bool register_test(const char* name, TestFunction function) {
  registry().emplace_back(name, function);
  return true;
}

inline void fail(const char* file, int line, const std::string& what) {
  ++current_failures();
  std::printf("    %s:%d: %s\n", file, line, what.c_str());
}

inline void check_near(double actual, double expected, double tol, const char* text, const char* file, int line) {
  if (!(std::abs(actual - expected) <= tol)) {
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, " (%.17g vs %.17g, tol %.3g)", actual, expected, tol);
    fail(file, line, std::string("CHECK_NEAR(") + text + ")" + buffer);
  }
}

inline int run_all(const char* suite) {
  int passed = 0, failed = 0;
  for (const auto& [name, function] : registry()) {
    current_failures() = 0;
    try {
      function();
    } catch (const std::exception& e) {
      fail(__FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
    }
    const bool ok = current_failures() == 0;
    std::printf("[%s] %s\n", ok ? " ok " : "FAIL", name);
    (ok ? passed : failed) += 1;
  }
  std::printf("%s: %d passed, %d failed\n", suite, passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

}  // namespace emkit_test

#define TEST(name)                                                                              \
  static void name();                                                                           \
  [[maybe_unused]] static const bool name##_registered = emkit_test::register_test(#name, name); \
  static void name()

#define CHECK(condition) \
  ((condition) ? (void)0 : emkit_test::fail(__FILE__, __LINE__, "CHECK(" #condition ")"))

#define CHECK_NEAR(actual, expected, tol) \
  emkit_test::check_near((actual), (expected), (tol), #actual ", " #expected, __FILE__, __LINE__)

#define CHECK_THROWS(expression, exception_type)                                              \
  do {                                                                                        \
    bool thrown_ = false;                                                                     \
    try {                                                                                     \
      (void)(expression);                                                                     \
    } catch (const exception_type&) {                                                         \
      thrown_ = true;                                                                         \
    }                                                                                         \
    if (!thrown_) emkit_test::fail(__FILE__, __LINE__, "expected " #exception_type " from " #expression); \
  } while (0)
