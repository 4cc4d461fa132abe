"""Registry of vectorised factor calculators and the per-request context they read.

A calculator is a plain function ``fn(ctx, idx, **params) -> values`` returning one
float per candidate node in ``idx`` (or ``(values, uncertainty)``). It is registered
under a name with the inventory columns it reads (``inputs``), so the catalog can be
validated on load and tests can perturb exactly those inputs. Calculators never
loop over nodes: they index inventory arrays with ``idx`` and use numpy.

Request-level intermediates shared by several factors (tenant peer counts, the cost
breakdown) are memoised in ``FactorContext.memo`` so a request computes them once,
whether it scores 10,000 nodes in one call or one node at a time (the naive
baseline); request-independent ones (fleet sums, zone latency matrix, per-rack means)
live in ``Inventory.derived`` and are computed once per inventory snapshot.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aiops.placement.optimise.constraints import VMRequest
from aiops.placement.inventory import Inventory

FactorOutput = np.ndarray | tuple[np.ndarray, np.ndarray]
CalcFn = Callable[..., FactorOutput]
InputsFn = Callable[..., Sequence[str]]


@dataclass
class FactorContext:
    """Everything a calculator may read for one request."""

    inv: Inventory
    vm: VMRequest
    horizon_h: float = 24.0
    cache: dict[str, Any] = field(default_factory=dict)
    _gather_idx: Any = field(default=None, repr=False)
    _gathered: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def memo(self, key: str, fn: Callable[[], Any]) -> Any:
        """Compute a request-level intermediate once."""
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]

    def gather(self, address: str, idx: np.ndarray) -> np.ndarray:
        """Inventory column at ``idx`` as float; gathered once per candidate set, since
        many factors read the same columns."""
        if self._gather_idx is not idx:
            self._gather_idx = idx
            self._gathered = {}
        got = self._gathered.get(address)
        if got is None:
            got = self._gathered[address] = self.inv.field(address)[idx].astype(float, copy=False)
        return got

    @property
    def tenant(self) -> int:
        return self.memo("tenant", lambda: self.inv.tenant_index(self.vm.tenant))


@dataclass(frozen=True)
class Calculator:
    name: str
    fn: CalcFn
    inputs: InputsFn
    check: Callable[..., None] | None
    description: str
    static: bool = False    # reads only the inventory snapshot: no request, horizon or tenant

    def validate_params(self, params: Mapping[str, Any]) -> None:
        """Raise ValueError when params do not match the function signature or its check."""
        sig = inspect.signature(self.fn)
        accepted = [p for p in list(sig.parameters.values())[2:]]
        names = {p.name for p in accepted}
        unknown = set(params) - names
        if unknown:
            raise ValueError(f"calculator {self.name!r} got unknown params {sorted(unknown)}; accepts {sorted(names)}")
        missing = [p.name for p in accepted if p.default is inspect.Parameter.empty and p.name not in params]
        if missing:
            raise ValueError(f"calculator {self.name!r} needs params {missing}")
        if self.check is not None:
            self.check(**params)

    def input_addresses(self, params: Mapping[str, Any]) -> list[str]:
        return list(self.inputs(**params))


_REGISTRY: dict[str, Calculator] = {}


def register(name: str, inputs: Sequence[str] | InputsFn, check: Callable[..., None] | None = None,
             static: bool = False) -> Callable[[CalcFn], CalcFn]:
    """Decorator: make ``fn`` available to the catalog as ``name``.

    ``static=True`` promises the result depends only on the inventory snapshot (not on
    the VM, tenant or horizon), so the engine may compute it once per snapshot for all
    nodes and gather candidates from that.
    """

    def deco(fn: CalcFn) -> CalcFn:
        if name in _REGISTRY:
            raise ValueError(f"calculator {name!r} registered twice")
        inputs_fn: InputsFn = inputs if callable(inputs) else (lambda _seq=tuple(inputs), **_: _seq)
        _REGISTRY[name] = Calculator(name, fn, inputs_fn, check, (fn.__doc__ or "").strip().split("\n")[0], static)
        return fn

    return deco


def get_calculator(name: str) -> Calculator:
    """The calculator registered as `name` (import `aiops.placement.factors.builtin` to register the built-in ones)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown calculator {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None


def calculators() -> dict[str, Calculator]:
    """Every registered calculator by name (a copy)."""
    return dict(_REGISTRY)
