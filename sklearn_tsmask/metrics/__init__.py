"""Saliency metrics (ground truth), fidelity metrics (no ground truth) and scorers for GridSearchCV."""

from ._fidelity import comprehensiveness, fidelity_accuracy, fidelity_cross_entropy, log_odds, sufficiency
from ._fidelity_scorers import (
    FIDELITY_SCORERS,
    comprehensiveness_scorer,
    fidelity_cross_entropy_scorer,
    make_fidelity_scorer,
    neg_fidelity_accuracy_scorer,
    neg_log_odds_scorer,
    neg_sufficiency_scorer,
)
from ._ground_truth import auprc, auroc, aup, aur, entropy, information
from ._scoring import FIDELITY_SCORING, SALIENCY_SCORING, MaskScoring, make_scoring
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
    "comprehensiveness",
    "sufficiency",
    "fidelity_accuracy",
    "fidelity_cross_entropy",
    "log_odds",
    "make_fidelity_scorer",
    "comprehensiveness_scorer",
    "neg_sufficiency_scorer",
    "neg_fidelity_accuracy_scorer",
    "fidelity_cross_entropy_scorer",
    "neg_log_odds_scorer",
    "FIDELITY_SCORERS",
    "make_scoring",
    "MaskScoring",
    "SALIENCY_SCORING",
    "FIDELITY_SCORING",
]
