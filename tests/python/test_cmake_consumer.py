"""The plain CMake side of the project: the repository configures and builds as a C++ project,
and ctest passes: the C++ unit tests and the find_package consumer test (install emkit into a
prefix, build cpp/examples against it, run fit_gmm on the shipped CSV)."""

import importlib.metadata
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEBIAN_EIGEN_DIRS = (Path("/usr/share/eigen3/cmake"), Path("/usr/lib/cmake/eigen3"))
STEP_TIMEOUT = 2400  # seconds; the 12 Eigen-heavy C++ test targets took 5-20 min on two shared cores


def eigen_cmake_dir():
    """The directory of an Eigen3Config.cmake that needs no download: cmeel-eigen's (the build
    requirement, when installed here) or Debian's libeigen3-dev; None if there is neither."""
    try:
        dist = importlib.metadata.distribution("cmeel-eigen")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for file in dist.files or ():
            if file.name == "Eigen3Config.cmake":
                config = Path(dist.locate_file(file))
                if config.is_file():
                    return config.parent
    for directory in DEBIAN_EIGEN_DIRS:
        if (directory / "Eigen3Config.cmake").is_file():
            return directory
    return None


def run(command, cwd):
    proc = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=STEP_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, command))} exited with {proc.returncode}:\n{proc.stdout[-20000:]}"
    )
    return proc.stdout


@pytest.mark.slow
def test_cmake_build_and_ctest_pass_including_the_find_package_consumer(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH")
    ctest = shutil.which("ctest") or str(Path(cmake).with_name("ctest"))
    if os.environ.get("CXX") is None and not any(
        shutil.which(c) for c in ("c++", "g++", "clang++")
    ):
        pytest.skip("no C++ compiler on PATH (and CXX is not set)")
    eigen_dir = eigen_cmake_dir()
    if eigen_dir is None:
        pytest.skip(
            "Eigen 3.4 not found: install the test extra's cmeel-eigen or Debian's libeigen3-dev "
            "(a test must not download it)"
        )

    build = tmp_path / "build"
    configure = [
        cmake,
        "-S",
        REPO,
        "-B",
        build,
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DEigen3_DIR={eigen_dir}",
    ]
    if eigen_dir.parts[-3:] == (
        "share",
        "eigen3",
        "cmake",
    ):  # also offer its prefix to the consumer
        configure.append(f"-DCMAKE_PREFIX_PATH={eigen_dir.parents[2]}")
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    run(configure, tmp_path)
    run(
        [cmake, "--build", build, "--config", "Release", "--parallel", str(os.cpu_count() or 2)],
        tmp_path,
    )
    output = run([ctest, "--output-on-failure", "-C", "Release"], build)

    assert "100% tests passed" in output, output
    for test in ("emkit.gaussian", "emkit.gaussian_mixture_emission", "emkit.kmeans",
                 "emkit.find_package_consumer"):
        assert test in output, f"ctest did not run {test}:\n{output}"
