"""Synthetic benchmark data with known saliency and white-box models.

* :func:`make_rare_feature` -- Rare-Feature (Rare-Observation): a few salient
  channels during a time window.
* :func:`make_rare_time` -- Rare-Time: a few consecutive salient time steps on
  a window of channels.
* :class:`RareWhiteBox` -- the group-aware white-box regressor of both.
* :class:`GRUClassifier`, :func:`train_gru_classifier` -- the GRU black box of
  State and Switch-Feature, and its seeded, cached training.
* :func:`make_state`, :func:`make_switch_feature` -- the State (2-state HMM) and
  Switch-Feature (3-state) benchmarks: labels driven by one state-chosen channel.
"""

from ._rare import make_rare_feature, make_rare_time
from ._white_box import RareWhiteBox
from ._black_box import GRUClassifier, train_gru_classifier

from ._hmm import make_state, make_switch_feature

__all__ = [
    "make_rare_feature",
    "make_rare_time",
    "RareWhiteBox",
    "make_state",
    "make_switch_feature",
    "GRUClassifier",
    "train_gru_classifier",
]
