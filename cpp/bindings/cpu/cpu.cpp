// emkit._cpu: which instruction-set extensions the running CPU (and operating system) supports.
// Compiled for the baseline instruction set and free of Eigen, so that it can always be imported;
// emkit/_core.py asks it which variant of the compiled core to load.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <string>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#endif

namespace py = pybind11;

namespace {

std::map<std::string, bool> cpu_features() {
  std::map<std::string, bool> f{{"avx2", false},     {"fma", false},      {"avx512f", false},
                                {"avx512cd", false}, {"avx512bw", false}, {"avx512dq", false},
                                {"avx512vl", false}};
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  // libgcc's / compiler-rt's detection also checks that the OS saves the AVX and AVX-512 state.
  __builtin_cpu_init();
  f["avx2"] = __builtin_cpu_supports("avx2");
  f["fma"] = __builtin_cpu_supports("fma");
  f["avx512f"] = __builtin_cpu_supports("avx512f");
  f["avx512cd"] = __builtin_cpu_supports("avx512cd");
  f["avx512bw"] = __builtin_cpu_supports("avx512bw");
  f["avx512dq"] = __builtin_cpu_supports("avx512dq");
  f["avx512vl"] = __builtin_cpu_supports("avx512vl");
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  int r[4];
  __cpuid(r, 1);
  const bool osxsave = (r[2] >> 27) & 1, fma = (r[2] >> 12) & 1;
  const unsigned long long xcr0 = osxsave ? _xgetbv(0) : 0;
  const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
  __cpuidex(r, 7, 0);
  f["avx2"] = ymm && ((r[1] >> 5) & 1);
  f["fma"] = ymm && fma;
  f["avx512f"] = zmm && ((r[1] >> 16) & 1);
  f["avx512dq"] = zmm && ((r[1] >> 17) & 1);
  f["avx512cd"] = zmm && ((r[1] >> 28) & 1);
  f["avx512bw"] = zmm && ((r[1] >> 30) & 1);
  f["avx512vl"] = zmm && ((r[1] >> 31) & 1);
#endif
  return f;
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "The instruction-set extensions of the running CPU, for choosing emkit's core variant.";
  m.def("features", &cpu_features, "Which of avx2, fma, avx512f/cd/bw/dq/vl the CPU and OS support.");
}
