"""Saliency metrics (ground truth) and scorers for GridSearchCV."""

from ._ground_truth import auprc, auroc, aup, aur, entropy, information
from ._scorers import (
    SALIENCY_SCORERS,
    auprc_scorer,
    auroc_scorer,
    aup_scorer,
    aur_scorer,
    information_scorer,
    make_saliency_scorer,
    neg_entropy_scorer,
)

__all__ = [
    "aup",
    "aur",
    "information",
    "entropy",
    "auroc",
    "auprc",
    "make_saliency_scorer",
    "aup_scorer",
    "aur_scorer",
    "information_scorer",
    "neg_entropy_scorer",
    "auroc_scorer",
    "auprc_scorer",
    "SALIENCY_SCORERS",
]
