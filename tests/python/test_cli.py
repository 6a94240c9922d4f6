"""`emkit demo` runs the main job on the bundled data."""

import subprocess
import sys

from emkit.cli import main


def test_demo_prints_the_bic_table_and_the_chosen_model(capsys):
    assert main(["demo", "--n-init", "3", "--max-components", "3"]) == 0
    out = capsys.readouterr().out
    assert "Choosing the number of components by BIC" in out
    assert "BIC picks K = 2" in out
    assert "restarts of the chosen model" in out and "reached by" in out
    assert "log-likelihood per iteration" in out
    # mclust's published full-covariance two-component iris fit: log-likelihood -214.3547.
    assert "-214.3547" in out
    # The latent class part: poLCA's three-class GSS82 model (log-likelihood -2754.545).
    assert "Latent class analysis: GSS 1982" in out and "BIC picks K = 3" in out
    assert "-2754.545" in out and "PURPOSE" in out and "Waste of time" in out
    # The HMM part: a Gaussian HMM on the simulated regimes, decoded against the truth.
    assert "Hidden Markov model: simulated 2-D sensor series" in out
    assert "confusion table" in out and "truth:" in out and "decoded:" in out
    assert "transition matrix" in out


def test_python_dash_m_entry_point():
    result = subprocess.run([sys.executable, "-m", "emkit", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("emkit ")


def test_no_command_prints_help(capsys):
    assert main([]) == 1
    assert "demo" in capsys.readouterr().out
