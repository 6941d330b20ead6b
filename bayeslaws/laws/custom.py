r"""A user's own law in a dozen lines: :func:`define`.

Subclassing :class:`~bayeslaws.laws.Law` and calling :func:`~bayeslaws.laws.register` always
works; :func:`define` is the short form of the same thing: it builds that subclass from a few
arguments, checks the formula on both backends, and registers it, so that partial pooling,
sampling, prediction, plots, comparison, ``fit.save`` / ``bayeslaws.load`` and the command line
treat it like a built-in law.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Callable, Mapping

import numpy as np

from ..errors import SpecError
from .base import POOLING, Law, Param
from .registry import _REGISTRY, register

_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _param(name: str, spec) -> Param:
    """A :class:`Param` from a Param, a ``(loc, scale[, family_scale])`` tuple or a dict."""
    if not _IDENT.match(name) or keyword.iskeyword(name):
        raise SpecError(f"parameter name {name!r} must be a Python identifier (e.g. 'k1', 'alpha')")
    if isinstance(spec, Param):
        if spec.name != name:
            raise SpecError(f"parameter {name!r} is given a Param named {spec.name!r}")
        out = spec
    elif isinstance(spec, Mapping):
        bad = set(spec) - {"loc", "scale", "log", "family_scale", "doc"}
        if bad or not {"loc", "scale"} <= set(spec):
            raise SpecError(f"parameter {name!r}: give loc and scale (and optionally log, "
                            f"family_scale, doc), not {sorted(spec)}")
        out = Param(name, float(spec["loc"]), float(spec["scale"]), log=bool(spec.get("log", False)),
                    family_scale=float(spec.get("family_scale", 0.3)),
                    doc=str(spec.get("doc", "")))
    elif isinstance(spec, (tuple, list)) and len(spec) in (2, 3):
        fam = float(spec[2]) if len(spec) == 3 else 0.3
        out = Param(name, float(spec[0]), float(spec[1]), log=False, family_scale=fam)
    else:
        raise SpecError(f"parameter {name!r}: give (loc, scale), (loc, scale, family_scale), a "
                        "dict(loc=, scale=, log=, family_scale=, doc=) or a bayeslaws.laws.Param")
    if not (math.isfinite(out.loc) and out.scale > 0 and out.family_scale > 0):
        raise SpecError(f"parameter {name!r}: loc must be finite and scale, family_scale > 0")
    if not out.doc:
        out = Param(out.name, out.loc, out.scale, out.log, out.family_scale,
                    doc=f"{'log-normal' if out.log else 'normal'} parameter {name}")
    return out


def define(name: str, *, target: str, inputs, params: Mapping, formula: Callable,
           formula_text: str, reference: str, positive_target: bool = True,
           derived: Mapping[str, Callable] | None = None, pooling: str | Mapping | None = None,
           noise: Mapping | None = None, doc: str = "", replace: bool = False) -> type[Law]:
    r"""Define, check and register a law from a formula written once against ``xp``.

    Parameters
    ----------
    name : str
        Registered name, kebab case (``"seager"``); ``bayeslaws.laws.get(name)`` then builds it.
    target : str
        Target column.
    inputs : sequence of str
        Input columns (each must be > 0: it enters the formula as ``x[col] = log(value)``).
    params : mapping
        ``{param: prior}`` in the order of the paper. A prior is ``(loc, scale)`` or
        ``(loc, scale, family_scale)``: a Normal on the value itself (any sign); or
        ``dict(loc=, scale=, log=True, family_scale=, doc=)``: with ``log=True`` the parameter is
        positive and ``loc``, ``scale`` are those of its logarithm; or a :class:`Param`.
        ``family_scale`` is the HalfNormal scale of the between-family sd (default 0.3).
    formula : callable ``(x, p, xp) -> array``
        The law on its link scale: ``log(target)`` when ``positive_target``, else the target.
        ``x[col]`` is the natural log of each input; ``p[param]`` the value of each parameter
        (and ``p["log_" + param]`` for ``log=True`` ones); ``xp`` is ``numpy`` or
        ``pytensor.tensor``: write ``xp.exp``, ``xp.log``, ``xp.logaddexp``, ``xp.where``, never
        ``math.*`` or ``np.*``, so that the one function builds the PyMC model and evaluates
        forecasts on posterior draws.
    formula_text, reference : str
        One-line formula and the paper, shown by ``bayeslaws laws``, plots and reports.
    positive_target : bool
        True (default): the target is > 0 and modelled on the log scale (relative noise).
        False: modelled in levels (additive noise), for targets that can be <= 0.
    derived : mapping, optional
        ``{name: callable(p, xp)}``: quantities computed from the parameters, reported beside them.
    pooling : str or mapping, optional
        Default pooling across families (``"partial"``, ``"centred"``, ``"shared"``,
        ``"independent"``, for all or
        per parameter); ``law.fit`` callers can still override it with ``get(name, pooling=...)``.
    noise : mapping, optional
        Default likelihood settings (``{"likelihood": "student_t", "sigma_scale": 0.05}``).
    doc : str
        Docstring of the generated class.
    replace : bool
        Allow replacing a built-in or user-written law class of the same name (a law made by
        ``define`` may always be redefined, e.g. when a notebook cell runs again).

    Returns
    -------
    type
        The new :class:`Law` subclass, already registered.

    Raises
    ------
    SpecError
        For a bad name, prior or pooling, or a formula that does not run on both backends (with
        the reason), or a clash with a registered law.

    Notes
    -----
    Why a Python function and not a string such as ``"k1 + log10(M)/3 - k2*M**k3"``: a function
    runs unchanged in numpy and in pytensor through ``xp``, can use anything both offer
    (``logaddexp`` for sums of positive terms in log space, ``where``, loops unrolled at build
    time, as in ``m4``'s Newton solve), gives ordinary tracebacks, and needs no parser or
    whitelist to be safe (``eval`` of strings is not). The price is that a function cannot be
    stored in a fit file: a saved fit stores the law's name and options, so run the ``define``
    call again (e.g. import the module that holds it) before ``bayeslaws.load`` of such a fit,
    exactly as for a user's own :class:`Law` subclass.

    Examples
    --------
    >>> import math, bayeslaws as bl
    >>> Seager = bl.laws.define(
    ...     "seager-example", target="radius", inputs=("mass",),
    ...     params={"k1": (-0.2, 0.1),
    ...             "k2": dict(loc=math.log(0.08), scale=1.0, log=True),
    ...             "k3": dict(loc=math.log(0.4), scale=0.5, log=True)},
    ...     formula=lambda x, p, xp: math.log(10) * (
    ...         p["k1"] + x["mass"] / (3 * math.log(10)) - p["k2"] * xp.exp(p["k3"] * x["mass"])),
    ...     formula_text="log10 R = k1 + (1/3) log10 M - k2 M^k3",
    ...     reference="Seager et al. 2007, ApJ 669:1279")
    >>> Seager().evaluate({"mass": [1.0]}, {"k1": -0.209, "k2": 0.08, "k3": 0.4}).round(2)
    array([0.51])
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(f"law name {name!r} must be kebab case: lower-case letters, digits and "
                        "'-', starting with a letter (e.g. 'seager', 'my-law')")
    old = _REGISTRY.get(name)
    if old is not None and not replace and not getattr(old, "_defined", False):
        raise SpecError(f"law {name!r} is already registered ({old.__name__}); pick another name "
                        "or pass replace=True")
    if isinstance(inputs, str):
        inputs = (inputs,)
    inputs = tuple(str(c) for c in inputs)
    if not inputs:
        raise SpecError(f"law {name!r}: give at least one input column")
    if not callable(formula):
        raise SpecError(f"law {name!r}: formula must be a function (x, p, xp) -> array")
    if not params:
        raise SpecError(f"law {name!r}: give at least one parameter")
    plist = tuple(_param(str(k), v) for k, v in params.items())
    derived = dict(derived or {})
    clash = set(derived) & {p.name for p in plist}
    if clash:
        raise SpecError(f"law {name!r}: derived names {sorted(clash)} clash with parameters")
    if isinstance(pooling, str) and pooling not in POOLING:
        raise SpecError(f"law {name!r}: pooling must be one of {POOLING}, not {pooling!r}")

    def _formula(self, x, p, xp):
        return formula(x, p, xp)

    def _derived(self, p, xp):
        return {k: fn(p, xp) for k, fn in derived.items()}

    def _init(self, **kwargs):
        if kwargs.get("pooling") is None:
            kwargs["pooling"] = pooling
        Law.__init__(self, **kwargs)

    attrs = {
        "name": name, "target": str(target), "inputs": inputs, "params": plist,
        "derived_names": tuple(derived), "formula_text": str(formula_text),
        "reference": str(reference), "positive_target": bool(positive_target),
        "default_noise": dict(Law.default_noise) | dict(noise or {}),
        "formula": _formula, "derived": _derived, "__init__": _init, "_defined": True,
        "__doc__": doc or f"{formula_text}\n\nReference: {reference}. Made by bayeslaws.laws.define.",
        "__module__": getattr(formula, "__module__", __name__) or __name__,
    }
    cls_name = "".join(part.capitalize() for part in name.split("-")) or "CustomLaw"
    cls = type(cls_name, (Law,), attrs)
    law = cls()  # checks priors and pooling
    _check_formula(law)
    register(cls)
    return cls


def _check_formula(law: Law) -> None:
    """Run the formula on numpy and build it in pytensor at the prior centres, or say why not."""
    rng = np.random.default_rng(0)
    values = {p.sampled: np.full(3, p.loc) for p in law.parameters.values()}
    x = {c: rng.uniform(-1.0, 1.0, 3) for c in law.inputs}
    try:
        p = law.natural(values, np)
        out = np.asarray(law.formula(x, p, np), dtype=float)
        law.derived(p, np)
    except Exception as exc:
        raise SpecError(f"law {law.name!r}: the formula fails on numpy arrays "
                        f"({type(exc).__name__}: {exc}); x[col] is log(input) and p[name] a "
                        "parameter value, both arrays: use xp.exp, xp.log, ... (the xp "
                        "argument), not math.*") from None
    if out.shape != (3,):
        raise SpecError(f"law {law.name!r}: the formula returns shape {out.shape} for 3 rows; it "
                        "must return one value per row")
    try:
        import pytensor.tensor as pt

        xs = {c: pt.vector(c) for c in law.inputs}
        ps = {k: pt.vector(k) for k in values}
        law.formula(xs, law.natural(ps, pt), pt)
    except Exception as exc:
        raise SpecError(f"law {law.name!r}: the formula does not build in pytensor "
                        f"({type(exc).__name__}: {exc}); use xp.exp, xp.log, ... (the xp "
                        "argument), not math.* or np.*") from None
