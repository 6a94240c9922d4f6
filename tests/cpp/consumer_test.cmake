# Run by ctest as `cmake -D... -P consumer_test.cmake`: proves that an installed emkit works
# through find_package(emkit CONFIG) from a project that knows nothing of the source tree.
#   (a) cmake --install the build tree into WORK_DIR/prefix
#   (b) configure cpp/examples with CMAKE_PREFIX_PATH=<prefix>;PREFIX_PATH (and Eigen3_DIR)
#   (c) build it
#   (d) run fit_gmm on the shipped CSV: exit 0 and a log-likelihood line; bad input: exit 2
foreach(var EMKIT_BINARY_DIR EXAMPLES_SOURCE_DIR CSV_FILE WORK_DIR GENERATOR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "consumer_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT CONFIG)
  set(CONFIG Release)
endif()

function(run step)
  message(STATUS "[consumer] ${step}: ${ARGN}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "[consumer] ${step} failed (${code}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

# (a)
run(install "${CMAKE_COMMAND}" --install "${EMKIT_BINARY_DIR}" --prefix "${prefix}" --config "${CONFIG}")
file(GLOB_RECURSE config_file "${prefix}/*/emkitConfig.cmake")
if(NOT config_file OR NOT EXISTS "${prefix}/include/emkit/emkit.hpp")
  message(FATAL_ERROR "[consumer] the install lacks emkitConfig.cmake or include/emkit/emkit.hpp")
endif()

# (b)
set(configure_args -S "${EXAMPLES_SOURCE_DIR}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_BUILD_TYPE=${CONFIG}" "-DCMAKE_PREFIX_PATH=${prefix};${PREFIX_PATH}"
    # Only the prefix may provide emkit: never a package registry.
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(GENERATOR_PLATFORM)
  list(APPEND configure_args -A "${GENERATOR_PLATFORM}")
endif()
if(GENERATOR_TOOLSET)
  list(APPEND configure_args -T "${GENERATOR_TOOLSET}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(EIGEN3_DIR)
  list(APPEND configure_args "-DEigen3_DIR=${EIGEN3_DIR}")
endif()
run(configure "${CMAKE_COMMAND}" ${configure_args})
file(STRINGS "${build}/CMakeCache.txt" emkit_dir REGEX "^emkit_DIR:")
string(REGEX REPLACE "^emkit_DIR:[A-Z]+=" "" emkit_dir "${emkit_dir}")
get_filename_component(real_prefix "${prefix}" REALPATH)
get_filename_component(real_emkit_dir "${emkit_dir}" REALPATH)
string(FIND "${real_emkit_dir}/" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "[consumer] emkit was found at '${emkit_dir}', not in the install prefix '${prefix}'")
endif()
message(STATUS "[consumer] emkit_DIR = ${emkit_dir}")

# (c)
run(build "${CMAKE_COMMAND}" --build "${build}" --config "${CONFIG}")

# (d)
set(exe "")
foreach(candidate "${build}/fit_gmm" "${build}/fit_gmm.exe" "${build}/${CONFIG}/fit_gmm"
                  "${build}/${CONFIG}/fit_gmm.exe")
  if(EXISTS "${candidate}" AND NOT IS_DIRECTORY "${candidate}")
    set(exe "${candidate}")
    break()
  endif()
endforeach()
if(NOT exe)
  message(FATAL_ERROR "[consumer] fit_gmm was not built in ${build}")
endif()
run(fit_gmm "${exe}" "${CSV_FILE}" 2 full 0)
message("${step_output}")
if(NOT step_output MATCHES "log-likelihood: -?[0-9][0-9.eE+-]*")
  message(FATAL_ERROR "[consumer] fit_gmm printed no log-likelihood line")
endif()

execute_process(COMMAND "${exe}" "${WORK_DIR}/no-such-file.csv" 2 RESULT_VARIABLE code
                OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT code EQUAL 2 OR NOT err MATCHES "cannot open")
  message(FATAL_ERROR "[consumer] fit_gmm on a missing file: expected exit code 2 and 'cannot open', "
                      "got ${code}: ${err}")
endif()
message(STATUS "emkit consumer test passed")
