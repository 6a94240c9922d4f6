# Finds Eigen 3.4 (and OpenMP when wanted). find_package first: the cmeel-eigen build
# requirement installs Eigen under <site-packages>/cmeel.prefix, which scikit-build-core puts
# on CMAKE_PREFIX_PATH; Debian's libeigen3-dev is found by the same call. A pinned download is
# only a fallback for machines with internet access.
include(GNUInstallDirs)

# pip's isolated build environment: the site-packages of the running Python hold cmeel.prefix.
if(NOT TARGET Eigen3::Eigen)
  find_package(Eigen3 3.4 CONFIG QUIET PATH_SUFFIXES cmeel.prefix/share/eigen3/cmake
               cmeel.prefix/lib/cmake/eigen3)
endif()
if(NOT TARGET Eigen3::Eigen)
  find_package(Python COMPONENTS Interpreter QUIET)
  if(Python_EXECUTABLE)
    execute_process(
      COMMAND "${Python_EXECUTABLE}" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])"
      OUTPUT_VARIABLE _emkit_purelib OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    find_package(Eigen3 3.4 CONFIG QUIET
                 PATHS "${_emkit_purelib}/cmeel.prefix" NO_DEFAULT_PATH)
  endif()
endif()
if(NOT TARGET Eigen3::Eigen)
  message(STATUS "emkit: Eigen3 not found locally; falling back to a pinned download of 3.4.0")
  include(FetchContent)
  set(_emkit_fetch_args "")
  if(NOT CMAKE_VERSION VERSION_LESS 3.24)
    list(APPEND _emkit_fetch_args DOWNLOAD_EXTRACT_TIMESTAMP TRUE)
  endif()
  # SOURCE_SUBDIR names a directory that does not exist, so MakeAvailable only downloads: Eigen's
  # own CMakeLists (tests, BLAS, docs) is never added. The one-argument FetchContent_Populate
  # that did this before is deprecated since CMake 3.30 (CMP0169).
  FetchContent_Declare(eigen
    URL https://gitlab.com/libeigen/eigen/-/archive/3.4.0/eigen-3.4.0.tar.gz
    URL_HASH SHA256=8586084f71f9bde545ee7fa6d00288b264a2b7ac3607b974e54d13e7162c1c72
    SOURCE_SUBDIR emkit-headers-only
    ${_emkit_fetch_args})
  FetchContent_MakeAvailable(eigen)
  add_library(Eigen3::Eigen INTERFACE IMPORTED)
  target_include_directories(Eigen3::Eigen INTERFACE "${eigen_SOURCE_DIR}")
  set(EMKIT_EIGEN_FETCHED ON)
endif()

set(EMKIT_OPENMP_FOUND OFF)
if(EMKIT_USE_OPENMP)
  find_package(OpenMP COMPONENTS CXX)
  if(OpenMP_CXX_FOUND)
    set(EMKIT_OPENMP_FOUND ON)
  else()
    message(STATUS "emkit: OpenMP not available; building single-threaded")
  endif()
endif()
