"""Datasets bundled with emkit."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Any, List, Tuple

import numpy as np

from .._typing import FloatArray, NDArray

__all__ = ["load_iris", "load_gss82"]


def load_iris() -> Tuple[FloatArray, NDArray[np.str_], List[str]]:
    """Fisher's iris measurements (Fisher 1936; the UCI copy also bundled by scikit-learn).

    Returns ``(X, species, feature_names)``: X is 150×4 (sepal length/width, petal
    length/width, in cm), species the 150 species names.
    """
    text = resources.files(__name__).joinpath("iris.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    header, body = rows[0], rows[1:]
    X = np.array([[float(v) for v in r[:4]] for r in body])
    species = np.array([r[4] for r in body])
    return X, species, header[:4]


def load_gss82() -> Tuple[List[Tuple[str, ...]], List[str]]:
    """Attitudes towards surveys, 1982 General Social Survey (McCutcheon 1987; the sample data of
    poLCA): 1202 respondents, four items with text labels (PURPOSE, ACCURACY, UNDERSTA,
    COOPERAT). Returns ``(rows, item_names)`` with rows a list of label tuples; with pandas
    installed, ``load_gss82_frame()`` gives a DataFrame."""
    text = resources.files(__name__).joinpath("gss82.csv").read_text()
    rows = list(csv.reader(text.splitlines()))
    return [tuple(r) for r in rows[1:]], rows[0]


def load_gss82_frame() -> Any:
    """The GSS 1982 survey items as a pandas DataFrame (requires pandas)."""
    import pandas as pd

    rows, names = load_gss82()
    return pd.DataFrame(rows, columns=names)
