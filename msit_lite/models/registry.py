"""A tiny registry: names in YAML configs -> Python builders.

Every swappable piece (encoders, whole models, the conv used inside MSNO/MSSA, the MSC branch
type, the scale-merge module, the attention) lives in a *kind* of registry. A config names the
piece; :func:`make` builds it. A course assignment or a user adds a piece by decorating a
function or class in their own file with ``@register("kind", "name")`` and importing that file --
the package itself is never edited.

    @register("merge", "conv1x1")
    class ConvMerge(nn.Module): ...

    make({"name": "conv1x1", "args": {...}}, kind="merge")

:func:`make` checks a spec's arguments against the builder's signature before building, and
names the key of anything wrong: an unknown or missing argument, a value of the wrong type
(``dim: thirty-two`` where the annotation says ``int``), a NaN or infinite float, and an integer
below its minimum for the names in :data:`MIN_ARGS` (``dim: 0``, ``radius: -1``) -- instead of a
torch error from deep inside a constructor, or a model that builds and then misbehaves.
"""
from __future__ import annotations

import inspect
import math
import types
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from msit_lite.errors import MsitError, describe

T = TypeVar("T", bound=Callable[..., Any])

_REGISTRY: dict[str, dict[str, Callable[..., Any]]] = {}


def register(kind: str, name: str) -> Callable[[T], T]:
    """Decorator: make ``builder`` available as ``name`` in the registry ``kind``."""

    def decorator(builder: T) -> T:
        table = _REGISTRY.setdefault(kind, {})
        if name in table and table[name] is not builder:
            raise MsitError(f"{kind} {name!r} is already registered (by {table[name]!r}); pick another name")
        table[name] = builder
        return builder

    return decorator


def unregister(kind: str, name: str) -> None:
    """Remove an entry (tests and notebooks that register temporary pieces clean up with this)."""
    _REGISTRY.get(kind, {}).pop(name, None)


def lookup(kind: str, name: str) -> Callable[..., Any]:
    """The builder registered as ``name`` in ``kind``; a clear error listing the choices otherwise."""
    table = _REGISTRY.get(kind, {})
    if name not in table:
        choices = ", ".join(sorted(table)) or "none"
        raise MsitError(f"unknown {kind} {name!r}; registered {kind}s: {choices}")
    return table[name]


def names(kind: str) -> list[str]:
    """The registered names of one kind, sorted."""
    return sorted(_REGISTRY.get(kind, {}))


def make(spec: dict[str, Any] | str, kind: str = "model", **extra: Any) -> Any:
    """Build ``{"name": ..., "args": {...}}`` (or a bare name) from registry ``kind``.

    ``extra`` keyword arguments are passed on top of ``args`` (used by parents that decide e.g.
    channel counts for their children). Arguments are checked first (:func:`check_args`).
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise MsitError(f"a {kind} spec needs a 'name' key, got {spec!r}")
    unknown = set(spec) - {"name", "args"}
    if unknown:
        raise MsitError(f"{kind} spec {spec['name']!r}: unknown keys {sorted(unknown)} (allowed: name, args)")
    if spec.get("args") is not None and not isinstance(spec["args"], Mapping):
        raise MsitError(f"{kind} {spec['name']!r}: 'args' must be a mapping, got {spec['args']!r}")
    builder = lookup(kind, spec["name"])
    args = dict(spec.get("args") or {})
    args.update(extra)
    check_args(f"{kind} {spec['name']!r}", builder, args)
    try:
        return builder(**args)
    except (TypeError, ValueError) as e:  # what the checks cannot see (e.g. channels not divisible by groups)
        raise MsitError(f"{kind} {spec['name']!r}: cannot build with {_short(args)}: {describe(e)}") from e


#: Smallest value of integer (and float) arguments that count or size something, by name, for
#: every builder (the package's and the ones users register). Names not listed are type-checked only.
MIN_ARGS: dict[str, float] = {
    "radius": 0, "n_resblocks": 0, "padding": 0, "mask_margin": 0,
    "dim": 1, "heads": 1, "channels": 1, "in_channels": 1, "out_channels": 1, "in_dim": 1, "out_dim": 1,
    "hidden_list": 1, "n_feats": 1, "G0": 1, "RDNkSize": 1, "branches": 1, "expand_ratio": 1,
    "kernel_size": 1, "v_kernel": 1, "projections": 1, "enc_dims": 1, "groups": 1, "mix_margin": 1,
}


def check_args(what: str, builder: Callable[..., Any], args: Mapping[str, Any]) -> None:
    """Raise :class:`MsitError` naming the key when ``args`` do not fit ``builder``'s signature.

    Unknown and missing arguments, types against the annotations (``int``, ``float``, ``bool``,
    ``str``, ``None``, ``Literal``, unions, mappings, sequences of those; other annotations are not
    checked), finite floats, and the minimums of :data:`MIN_ARGS`.
    """
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        allowed = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for key in args:
            if key not in allowed:
                raise MsitError(f"{what}: unknown argument {key!r} (allowed: {', '.join(allowed)})")
    for name, p in params.items():
        if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in args:
            raise MsitError(f"{what}: missing argument {name!r}")
    try:
        hints = get_type_hints(builder.__init__ if isinstance(builder, type) else builder)
    except Exception:  # an annotation that does not resolve (e.g. in a user's module): no type checks
        hints = {}
    for key, value in args.items():
        problem = _problem(value, hints.get(key, Any), key)
        if problem:
            raise MsitError(f"{what}: argument {key!r} {problem}")


def _problem(value: Any, tp: Any, key: str) -> str:
    """Why ``value`` does not fit the annotation ``tp`` (and the minimum of ``key``), '' if it does."""
    origin, targs = get_origin(tp), get_args(tp)
    if tp is Any or tp is object:
        return ""
    if origin in (Union, types.UnionType):
        problems = [_problem(value, t, key) for t in targs]
        return "" if "" in problems else f"must be {_name(tp)}, got {value!r}"
    if origin is Literal:
        return "" if value in targs else f"must be one of {', '.join(map(repr, targs))}, got {value!r}"
    if tp is type(None):
        return "" if value is None else f"must be null, got {value!r}"
    if tp is bool:
        return "" if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if tp in (int, float):
        number = isinstance(value, int) or (tp is float and isinstance(value, float))
        if isinstance(value, bool) or not number:
            return f"must be {'an integer' if tp is int else 'a number'}, got {value!r}"
        if not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        low = MIN_ARGS.get(key)
        return f"must be >= {low:g}, got {value!r}" if low is not None and value < low else ""
    if tp is str:
        return "" if isinstance(value, str) else f"must be a string, got {value!r}"
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return "" if isinstance(value, Mapping) else f"must be a mapping, got {value!r}"
    if origin in (list, tuple, Sequence) or tp in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            return f"must be a list, got {value!r}"
        item = targs[0] if targs and (len(targs) == 1 or targs[-1] is Ellipsis) else Any
        for i, v in enumerate(value):
            problem = _problem(v, item, key)
            if problem:
                return f"[{i}] {problem}"
        return ""
    return ""  # a class or another annotation: not checked here


def _name(tp: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", str: "a string", type(None): "null"}
    if get_origin(tp) in (Union, types.UnionType):
        return " or ".join(_name(t) for t in get_args(tp))
    if get_origin(tp) in (dict, Mapping) or tp in (dict, Mapping):
        return "a mapping"
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _short(args: Mapping[str, Any], limit: int = 120) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def live_table() -> dict[str, dict[str, Callable[..., Any]]]:
    """The registry itself, ``{kind: {name: builder}}``, for code that must save and restore it (the
    autograder hides a submission's registrations); everything else uses :func:`register`/:func:`lookup`."""
    return _REGISTRY
