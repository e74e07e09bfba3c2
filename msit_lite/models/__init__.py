"""Models: encoders, the LIIF baseline, MSIT (FEM, MSNO, MSSA) and RIM.

Importing this package registers every built-in piece in :mod:`msit_lite.models.registry`:

==========  =====================================================================
kind        names
==========  =====================================================================
model       ``msit``, ``liif``
encoder     ``edsr-baseline``, ``rdn``
conv        ``plain``, ``rim``, ``refconv`` (k×k convs inside MSNO/MSSA)
fem         ``official``, ``paper``, ``none``
merge       ``sim``, ``conv`` (scale merge inside MSNO)
msno        ``msno``, ``none``
attention   ``mssa``, ``sa``
decoder     ``mlp``
==========  =====================================================================
"""
from msit_lite.models.registry import lookup, make, names, register, unregister

from msit_lite.models import encoders, fem, liif, mlp, msit, msno, mssa, rim  # noqa: E402,F401  (register built-ins)
from msit_lite.models.base import ImplicitSRModel, Trace  # noqa: E402
from msit_lite.models.liif import LIIF  # noqa: E402
from msit_lite.models.msit import MSIT  # noqa: E402
from msit_lite.models.rim import RefConv2d, RIMConv2d, fold, fold_spec, load_stage1  # noqa: E402

__all__ = [
    "ImplicitSRModel",
    "LIIF",
    "MSIT",
    "RIMConv2d",
    "RefConv2d",
    "Trace",
    "fold",
    "fold_spec",
    "load_stage1",
    "lookup",
    "make",
    "names",
    "register",
    "unregister",
]
