"""Models: encoders, the LIIF baseline, MSIT (FEM, MSNO, MSSA) and RIM.

Importing this package registers every built-in piece in :mod:`msit_lite.models.registry`.
"""
from msit_lite.models.registry import lookup, make, names, register, unregister

__all__ = ["lookup", "make", "names", "register", "unregister"]
