"""``from msit_lite.train import train`` -- a short name for :mod:`msit_lite.training`.

The implementation is split by concern under :mod:`msit_lite.training`: ``config`` (the typed
``train:``/``data:`` schema), ``schedule`` (warm-up + cosine as a function of the step),
``state`` (``train_state.pt`` and RNG states), ``cumulative`` (stage-1 -> RIM) and ``loop``.
"""
from msit_lite.training import *  # noqa: F401,F403
from msit_lite.training import __all__  # noqa: F401
