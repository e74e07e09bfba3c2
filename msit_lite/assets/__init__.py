"""The files that ship inside the package: the lite checkpoints and every YAML config.

Why inside the package: ``pip install .`` (or a wheel) copies only the package, so the model that
``msit-lite upscale photo.png`` runs by default, and a config named on the command line
(``msit-lite params --config lite-msit``), must live in it. They are package data
(``pyproject.toml``): ``checkpoints/<name>/`` (``model.safetensors``, ``config.yaml``, the model
card and the training logs) and ``configs/**/*.yaml``. In a checkout, ``checkpoints/`` and
``configs/`` at the repository root are links to these two folders, so that the paths scripts and
users have always typed keep working.

A name resolves to a shipped file only when no file or folder of that name exists: a user's own
``lite-msit.yaml`` in the working directory wins over the shipped one.
"""
from __future__ import annotations

from pathlib import Path

from msit_lite.errors import MsitError

ASSETS = Path(__file__).resolve().parent
CHECKPOINTS = ASSETS / "checkpoints"
CONFIGS = ASSETS / "configs"
#: The model ``msit-lite upscale`` runs when no ``--checkpoint`` is given.
DEFAULT_CHECKPOINT = "lite-msit"


def checkpoint_names() -> list[str]:
    """The shipped checkpoints, e.g. ``["lite-liif", "lite-msit", ...]``."""
    return sorted(p.name for p in CHECKPOINTS.iterdir() if (p / "model.safetensors").is_file())


def config_names() -> list[str]:
    """The shipped configs by name: ``lite-msit``, ``study/lite-sa``, ``golden/liif-small``, ..."""
    return sorted(p.relative_to(CONFIGS).with_suffix("").as_posix() for p in CONFIGS.rglob("*.yaml"))


def checkpoint_dir(checkpoint: str | Path) -> Path:
    """A checkpoint folder: ``checkpoint`` itself when it is a folder, else the shipped one of that name."""
    path = Path(checkpoint)
    if path.is_dir():
        return path
    shipped = CHECKPOINTS / str(checkpoint)
    if _is_name(checkpoint) and (shipped / "model.safetensors").is_file():
        return shipped
    raise MsitError(f"checkpoint folder {path} not found; pass --checkpoint DIR holding model.safetensors + "
                    f"config.yaml, or a shipped checkpoint's name ({', '.join(checkpoint_names())}) -- or train one "
                    "(msit-lite train) / convert an official one (msit-lite convert)")


def config_path(config: str | Path) -> Path:
    """A config file: ``config`` itself when it exists, else the shipped config of that name (``.yaml`` optional)."""
    path = Path(config)
    if path.is_file():
        return path
    name = path.as_posix().removesuffix(".yaml")
    shipped = CONFIGS / f"{name}.yaml"
    if not path.is_absolute() and ".." not in path.parts and shipped.is_file():
        return shipped
    raise MsitError(f"config file {path} not found; give a YAML file or the name of a shipped config "
                    f"(e.g. {', '.join(n for n in config_names() if '/' not in n)})")


def _is_name(value: str | Path) -> bool:
    """A bare name like ``lite-msit`` (no folder part): only such names are looked up among the shipped files."""
    return len(Path(value).parts) == 1 and str(value) not in (".", "..")


__all__ = ["CHECKPOINTS", "CONFIGS", "DEFAULT_CHECKPOINT", "checkpoint_dir", "checkpoint_names", "config_names",
           "config_path"]
