"""The package type-checks under mypy --strict and the sources pass ruff's lint (the settings are
pyproject.toml's [tool.mypy] and [tool.ruff.lint]); both tools are in the test extra."""

import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_tool(*args):
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def require(module):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e .[test])")


@pytest.mark.slow
def test_package_passes_mypy_strict():
    require("mypy")
    result = run_tool("mypy", "--strict", "--config-file", "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_sources_pass_ruff_check():
    require("ruff")
    result = run_tool("ruff", "check", "python/emkit", "tests/python", "bench")
    assert result.returncode == 0, result.stdout + result.stderr
