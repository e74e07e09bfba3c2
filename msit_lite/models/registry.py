"""A tiny registry: names in YAML configs -> Python builders.

Every swappable piece (encoders, whole models, the conv used inside MSNO/MSSA, the MSC branch
type, the scale-merge module, the attention) lives in a *kind* of registry. A config names the
piece; :func:`make` builds it. A course assignment or a user adds a piece by decorating a
function or class in their own file with ``@register("kind", "name")`` and importing that file --
the package itself is never edited.

    @register("merge", "conv1x1")
    class ConvMerge(nn.Module): ...

    make({"name": "conv1x1", "args": {...}}, kind="merge")
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from msit_lite.errors import MsitError

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
    _ensure_builtins()
    table = _REGISTRY.get(kind, {})
    if name not in table:
        choices = ", ".join(sorted(table)) or "none"
        raise MsitError(f"unknown {kind} {name!r}; registered {kind}s: {choices}")
    return table[name]


def names(kind: str) -> list[str]:
    """The registered names of one kind, sorted."""
    _ensure_builtins()
    return sorted(_REGISTRY.get(kind, {}))


def make(spec: dict[str, Any] | str, kind: str = "model", **extra: Any) -> Any:
    """Build ``{"name": ..., "args": {...}}`` (or a bare name) from registry ``kind``.

    ``extra`` keyword arguments are passed on top of ``args`` (used by parents that decide e.g.
    channel counts for their children).
    """
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise MsitError(f"a {kind} spec needs a 'name' key, got {spec!r}")
    unknown = set(spec) - {"name", "args"}
    if unknown:
        raise MsitError(f"{kind} spec {spec['name']!r}: unknown keys {sorted(unknown)} (allowed: name, args)")
    builder = lookup(kind, spec["name"])
    args = dict(spec.get("args") or {})
    args.update(extra)
    try:
        return builder(**args)
    except TypeError as e:  # wrong/missing argument names in a config: say which
        raise MsitError(f"{kind} {spec['name']!r}: bad arguments {sorted(args)}: {e}") from e


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    """Import the package's own modules once so that their ``@register`` lines have run."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        import msit_lite.models  # noqa: F401  (registers everything)
