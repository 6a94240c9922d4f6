"""Datasets bundled with emkit."""

from __future__ import annotations

import csv
from importlib import resources
from typing import Tuple

import numpy as np

__all__ = ["load_iris"]


def load_iris() -> Tuple[np.ndarray, np.ndarray, list]:
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
