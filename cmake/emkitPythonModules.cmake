# The Python extension modules. The bindings (and with them every kernel of the header-only core)
# are compiled once per instruction-set variant, as the modules emkit._core_<variant>; the small
# module emkit._cpu reports what the running CPU supports, and emkit/_core.py imports the best
# variant the CPU can run (see docs/design.md, "Instruction sets"). A portable wheel therefore runs
# on any x86-64 machine and still uses AVX2+FMA or AVX-512 where the CPU has them.
#
# EMKIT_ISA_VARIANTS: "auto" (baseline, plus avx2 and avx512 on x86-64 when the compiler accepts
# their flags), or a list from baseline;avx2;avx512;native. "native" (-march=native) is for a
# build that runs only on the machine that built it, e.g. to compare it with the portable variants.
set(EMKIT_ISA_VARIANTS "auto" CACHE STRING
    "Instruction-set variants of the Python module: auto, or a list of baseline;avx2;avx512;native")

include(CheckCXXCompilerFlag)

# The compiler flags of a variant, in ${out}; empty (and ${ok} OFF) when the compiler rejects them.
function(emkit_isa_flags variant out ok)
  set(flags "")
  if(variant STREQUAL "baseline")
    set(${out} "" PARENT_SCOPE)
    set(${ok} ON PARENT_SCOPE)
    return()
  elseif(MSVC)
    if(variant STREQUAL "avx2")
      set(flags "/arch:AVX2")
    elseif(variant STREQUAL "avx512")
      set(flags "/arch:AVX512")
    endif()
  else()
    if(variant STREQUAL "avx2")
      set(flags -mavx2 -mfma)
    elseif(variant STREQUAL "avx512")
      set(flags -mavx2 -mfma -mavx512f -mavx512cd -mavx512bw -mavx512dq -mavx512vl)
    elseif(variant STREQUAL "native")
      set(flags -march=native)
    endif()
  endif()
  if(NOT flags)
    message(FATAL_ERROR "EMKIT_ISA_VARIANTS: unknown variant '${variant}' for this compiler "
                        "(expected baseline, avx2, avx512 or native)")
  endif()
  string(REPLACE ";" " " joined "${flags}")
  string(MAKE_C_IDENTIFIER "EMKIT_HAS_FLAGS_${variant}" cache_var)
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_compiler_flag("${joined}" ${cache_var})
  if(${cache_var})
    set(${out} "${flags}" PARENT_SCOPE)
    set(${ok} ON PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
    set(${ok} OFF PARENT_SCOPE)
  endif()
endfunction()

set(_emkit_variants "${EMKIT_ISA_VARIANTS}")
if(_emkit_variants STREQUAL "auto")
  set(_emkit_variants baseline)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
    list(APPEND _emkit_variants avx2 avx512)
  endif()
endif()

set(PYBIND11_FINDPYTHON ON)
find_package(pybind11 CONFIG REQUIRED)

pybind11_add_module(_cpu MODULE "${PROJECT_SOURCE_DIR}/cpp/bindings/cpu/cpu.cpp")
install(TARGETS _cpu LIBRARY DESTINATION . COMPONENT python)

file(GLOB EMKIT_BINDING_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/cpp/bindings/*.cpp")
set(EMKIT_BUILT_VARIANTS "")
foreach(variant IN LISTS _emkit_variants)
  emkit_isa_flags(${variant} _flags _ok)
  if(NOT _ok)
    message(STATUS "emkit: the compiler rejects the flags of the '${variant}' variant; not built")
    continue()
  endif()
  set(target _core_${variant})
  pybind11_add_module(${target} MODULE ${EMKIT_BINDING_SOURCES})
  target_link_libraries(${target} PRIVATE emkit::emkit)
  target_compile_options(${target} PRIVATE ${_flags})
  target_compile_definitions(${target} PRIVATE EMKIT_VERSION="${PROJECT_VERSION}"
                                               EMKIT_MODULE_NAME=${target} EMKIT_ISA="${variant}")
  install(TARGETS ${target} LIBRARY DESTINATION . COMPONENT python)
  list(APPEND EMKIT_BUILT_VARIANTS ${variant})
endforeach()
if(NOT EMKIT_BUILT_VARIANTS)
  message(FATAL_ERROR "emkit: no instruction-set variant of the Python module can be built")
endif()
message(STATUS "emkit: Python module variants: ${EMKIT_BUILT_VARIANTS}")
