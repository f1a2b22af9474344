"""Synthetic benchmark data with known saliency and white-box models.

* :func:`make_rare_feature` -- Rare-Feature (Rare-Observation): a few salient
  channels during a time window.
* :func:`make_rare_time` -- Rare-Time: a few consecutive salient time steps on
  a window of channels.
* :class:`RareWhiteBox` -- the group-aware white-box regressor of both.
"""

from ._rare import make_rare_feature, make_rare_time
from ._white_box import RareWhiteBox

__all__ = ["make_rare_feature", "make_rare_time", "RareWhiteBox"]
