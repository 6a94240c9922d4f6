# Installs the header-only core as a CMake package: consumers write
#   find_package(emkit CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE emkit::emkit)
# Every install() here uses the default component, never "python": the wheel build installs
# only COMPONENT python, so no header or CMake file ends up in the wheel.
include(CMakePackageConfigHelpers)

set(EMKIT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/emkit"
    CACHE STRING "Where to install emkitConfig.cmake and the exported targets (relative to the prefix)")
mark_as_advanced(EMKIT_INSTALL_CMAKEDIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/cpp/include/emkit"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")

# When Eigen came from the pinned download, nothing on the consumer's machine is guaranteed to
# provide it, so its headers are installed along with ours, in a directory of emkit's own (never
# <prefix>/include/eigen3, which may belong to a system Eigen), and the package config defines
# Eigen3::Eigen from them.
set(EMKIT_BUNDLED_EIGEN OFF)
set(EMKIT_BUNDLED_EIGEN_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}/emkit/third_party/eigen3")
if(EMKIT_EIGEN_FETCHED)
  set(EMKIT_BUNDLED_EIGEN ON)
  install(DIRECTORY "${eigen_SOURCE_DIR}/Eigen" DESTINATION "${EMKIT_BUNDLED_EIGEN_INCLUDEDIR}")
  file(GLOB _emkit_eigen_licenses "${eigen_SOURCE_DIR}/COPYING.*")
  if(_emkit_eigen_licenses)
    install(FILES ${_emkit_eigen_licenses} DESTINATION "${EMKIT_BUNDLED_EIGEN_INCLUDEDIR}")
  endif()
endif()

install(TARGETS emkit EXPORT emkitTargets)
install(EXPORT emkitTargets
        NAMESPACE emkit::
        FILE emkitTargets.cmake
        DESTINATION "${EMKIT_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/emkitConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/emkitConfig.cmake"
  INSTALL_DESTINATION "${EMKIT_INSTALL_CMAKEDIR}"
  PATH_VARS EMKIT_BUNDLED_EIGEN_INCLUDEDIR)
# Header-only: the same package serves 32- and 64-bit consumers.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/emkitConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/emkitConfig.cmake" "${PROJECT_BINARY_DIR}/emkitConfigVersion.cmake"
        DESTINATION "${EMKIT_INSTALL_CMAKEDIR}")
