"""YAML configs: ``model: {name, args}`` plus ``train:``/``data:``/``eval:`` sections.

A config is a plain dict (YAML is the source of truth; the model part is a registry spec, see
:mod:`msit_lite.models.registry`). :func:`load_config` validates the top level and the model
spec with one-line :class:`~msit_lite.errors.MsitError` messages that name the file and key;
:func:`build_model` turns it into a module (unknown model arguments are reported by name).

Example::

    model:
      name: msit
      args:
        encoder: {name: edsr-baseline}
        dim: 256
        conv: rim            # plain (stage 1) | rim (stage 2) | refconv
        msno: {name: msno, args: {branches: 16, fem: official, merge: sim}}
        attention: {name: mssa, args: {projections: 4}}
        decoder: {name: mlp, args: {hidden_list: [256, 256, 256, 256], act: gelu}}
    train: {...}
    data: {...}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from torch import nn

from msit_lite.assets import config_path
from msit_lite.errors import MsitError
from msit_lite.models import make

TOP_LEVEL_KEYS = ("model", "train", "data", "eval", "description")
MODEL_KEYS = ("name", "args")


def load_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a YAML config: a file, or the name of a shipped one (``lite-msit``, ``study/lite-sa``)."""
    path = config_path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise MsitError(f"config file {path} is not valid YAML{at}: {getattr(e, 'problem', e)}") from e
    return validate_config(config, str(path))


def validate_config(config: Any, source: str = "config") -> dict[str, Any]:
    """Check the top-level keys and the model spec; returns the config."""
    if not isinstance(config, dict):
        raise MsitError(f"{source}: expected a mapping with a 'model' key, got {type(config).__name__}")
    unknown = [k for k in config if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise MsitError(f"{source}: unknown top-level key {unknown[0]!r} (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    if "model" not in config:
        raise MsitError(f"{source}: missing key 'model' (a {{name, args}} spec)")
    model = config["model"]
    if not isinstance(model, dict):
        raise MsitError(f"{source}: key 'model' must be a mapping with 'name' and 'args'")
    bad = [k for k in model if k not in MODEL_KEYS]
    if bad:
        raise MsitError(f"{source}: unknown key 'model.{bad[0]}' (allowed: name, args)")
    if "name" not in model:
        raise MsitError(f"{source}: missing key 'model.name'")
    if model.get("args") is not None and not isinstance(model["args"], dict):
        raise MsitError(f"{source}: key 'model.args' must be a mapping")
    return config


def build_model(config: dict[str, Any], source: str | None = None) -> nn.Module:
    """Build the model of a (validated) config from the registry.

    ``source`` (the config's file) prefixes every error, so that a bad argument names the file
    as well as the key (``configs/x.yaml: model 'msit': argument 'dim' must be >= 1, got 0``).
    """
    validate_config(config, source or "config")
    try:
        return make(config["model"], "model")
    except MsitError as e:
        if source is None:
            raise
        raise MsitError(f"{source}: {e}") from e
