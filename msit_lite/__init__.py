"""msit_lite: a small, tested reproduction of MSIT for arbitrary-scale super-resolution.

The package implements; the notebooks in ``notebooks/`` explain; the tests pin behaviour.
"""
from msit_lite.errors import MsitError
from msit_lite.utils import pick_device, seed_everything

__version__ = "0.1.0"
__all__ = ["MsitError", "pick_device", "seed_everything", "__version__"]
