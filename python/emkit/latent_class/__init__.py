"""Latent class analysis: the estimator (``model``), its data layout (``layout``) and its fit
statistics, standard errors and summary (``inference``)."""

from .model import LatentClass

__all__ = ["LatentClass"]
