"""``bayeslaws optimal``: the optimum a fitted law implies (compute-optimal N* and D*, or the
law's own: optimal vocabulary, batch size and learning rate, teacher, bits per parameter, density)."""

from __future__ import annotations

from .output import _note_approximate, _print_densing, _print_table, _write_csv

def cmd_optimal(args) -> None:
    from ..io import load
    from ..errors import BayeslawsError
    from ..intervals import check_prob

    prob = check_prob(args.prob)
    fit = load(args.fit)
    _note_approximate(fit)
    name = fit.law.name
    if args.mixture or name == "mixture" or args.candidates:
        _optimal_mixture(fit, args, prob)
        return
    if name == "vocab":
        table = _optimal_vocab(fit, args, prob)
    elif name == "batch-size":
        table = _optimal_batch_size(fit, args, prob)
    elif name == "capacity-gap":
        table = _optimal_teacher(fit, args, prob)
    elif name == "knowledge":
        table = _bits_per_param(fit, args, prob)
    elif name == "densing":
        _no_flags(args, "densing", ("flops", "params", "tokens", "embed_dim", "unique_tokens",
                                     "exposures", "bits"))
        table = fit.density(prob=prob)
        if args.family is not None:
            table = table[table["family"] == args.family]
        _print_table(table.set_index("model") if "model" in table else table)
        print()
        if "date" in fit.data:
            _print_densing(fit, prob)
        if args.out:
            _write_csv(table, args.out, index=False)
        return
    else:
        for flag in ("params", "tokens", "embed_dim", "exposures", "bits"):
            if getattr(args, flag) is not None:
                raise BayeslawsError(f"--{flag.replace('_', '-')} applies to vocab and batch-size "
                                     f"fits, not {name!r} (give --flops)")
        if args.flops is None:
            raise BayeslawsError(f"--flops is required: the training budget in FLOPs of the "
                                 f"{name!r} fit's compute-optimal allocation")
        inputs = {"unique_tokens": args.unique_tokens} if args.unique_tokens is not None else None
        table = fit.optimal(args.flops, family=args.family, inputs=inputs).table(prob)
        if not getattr(args, "long", False):
            _print_allocation(table, prob, families=len(fit.families), chosen=args.family)
            if _beyond_data(fit, args.flops):
                print("(beyond the fitted compute, N* and D* carry an allocation error learned "
                      "on held-out IsoFLOP minima\n of three studies, where the law's posterior "
                      "alone covered 20-55% at 90%: docs/calibration.md)")
            if args.out:
                _write_csv(table, args.out, index=True)
            return
    _print_table(table)
    if args.out:
        _write_csv(table, args.out, index=name not in ("vocab", "batch-size", "capacity-gap",
                                                       "knowledge"))


#: Columns of the compact allocation table: heading, quantity of Optimum.table, significant digits.
_COMPACT = (("N* (params)", "N_opt", 2), ("D* (tokens)", "D_opt", 2),
            ("D*/N*", "tokens_per_param", 2), ("loss at optimum", "loss_opt", 4))


def _number(value: float, digits: int) -> str:
    """A number at a glance: ``digits`` significant digits, exponent without '+' or leading
    zeros (7.1e10, 5.0e9, 20, 2.130)."""
    text = f"{value:#.{digits}g}"  # '#': keep trailing zeros (5.0e9, 2.130)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa.rstrip('.')}e{int(exponent)}"
    return text.rstrip(".")


def allocation_table(table, prob: float, *, families: int, chosen: str | None = None):
    """The compact view of an :meth:`Optimum.table <bayeslaws.optimal.Optimum.table>`: one row
    per family, each quantity as ``median [lower, upper]`` of readable width.

    A fit of one family shows no ``population`` row unless asked for (``chosen``): a new
    family's allocation is ten times wider and easy to misread as the fitted one's; with
    several families it reads "new family (population)".
    """
    import pandas as pd

    if families == 1 and chosen is None:
        table = table.drop(index="population", errors="ignore")
    rows = {}
    for family, row in table.iterrows():
        label = "new family (population)" if family == "population" else str(family)
        rows[label] = {head: f"{_number(row[f'{q}_median'], d)} [{_number(row[f'{q}_lower'], d)}, "
                             f"{_number(row[f'{q}_upper'], d)}]" for head, q, d in _COMPACT}
    return pd.DataFrame.from_dict(rows, orient="index")


def _print_allocation(table, prob: float, *, families: int, chosen: str | None) -> None:
    flops = float(table["flops"].iloc[0])
    budget = f"{flops:.3g}".replace("e+", "e")
    print(f"compute-optimal allocation at C = {budget} FLOPs: median [{prob:.0%} interval]")
    _print_table(allocation_table(table, prob, families=families, chosen=chosen))
    hidden = families == 1 and chosen is None and "population" in table.index
    print("(" + ("a new family's allocation: --family population; " if hidden else "")
          + "every column as numbers: --long or --out FILE.csv)")


def _beyond_data(fit, flops: float) -> bool:
    """Whether a budget exceeds the largest fitted run's compute (6ND) on the discrepancy's own
    size axis (:func:`bayeslaws.extrapolation.largest_size`)."""
    from ..data import prepare
    from ..extrapolation import largest_size

    x = prepare(fit.law, fit.data, family_column=fit.config["family_column"],
                require_target=False).x
    if "params" not in x or "tokens" not in x:
        return False
    return float(flops) > largest_size(fit.law, x)


def _no_flags(args, name: str, flags) -> None:
    from ..errors import BayeslawsError

    for flag in flags:
        if getattr(args, flag) is not None:
            raise BayeslawsError(f"--{flag.replace('_', '-')} does not apply to a {name} fit")


def _optimal_vocab(fit, args, prob):
    """Tao et al.'s compute-optimal vocabulary (``bayeslaws.laws.vocab.optimal_vocab_table``)."""
    import math

    from ..errors import BayeslawsError
    from ..laws.vocab import APPROACH1_LOG_K, optimal_vocab_table

    _no_flags(args, "vocab", ("tokens", "unique_tokens"))
    if args.params is None and args.flops is None:
        raise BayeslawsError("a vocab fit needs --flops (the budget) and/or --params (the "
                             "non-vocabulary parameters N_nv)")
    if args.flops is not None and not (math.isfinite(args.flops) and args.flops > 0):
        raise BayeslawsError(f"--flops must be a positive finite number of FLOPs, not "
                             f"{args.flops:g}")
    if args.params is not None and len(args.params) > 1:
        raise BayeslawsError("a vocab fit takes one --params (N_nv) per call")
    # without --params: the non-vocabulary size that is compute-optimal at the budget
    # (the paper's Approach 1, N_nv = 0.0834 C^0.5)
    nnv = (args.params[0] if args.params is not None
           else math.exp(APPROACH1_LOG_K) * math.sqrt(args.flops))
    table = optimal_vocab_table(fit, nnv, flops=args.flops, embed_dim=args.embed_dim,
                                family=args.family, prob=prob)
    return table.rename(columns={"V_opt_median": "vocab_median", "V_opt_lower": "vocab_lower",
                                 "V_opt_upper": "vocab_upper"})


def _optimal_batch_size(fit, args, prob):
    """Optimal learning rate and batch size at (N, D), then the critical batch size."""
    import pandas as pd

    from ..errors import BayeslawsError
    from ..intervals import describe
    from ..laws.batch_size import critical_batch, optimal_hyperparameters_table

    _no_flags(args, "batch-size", ("flops", "embed_dim", "unique_tokens"))
    if args.params is None or args.tokens is None:
        raise BayeslawsError("a batch-size fit needs --params N and --tokens D (the model and "
                             "its training tokens)")
    if len(args.tokens) not in (1, len(args.params)) and len(args.params) != 1:
        raise BayeslawsError(f"give one --tokens or one per --params, not {len(args.tokens)} "
                             f"for {len(args.params)}")
    table = optimal_hyperparameters_table(fit, args.params, args.tokens, family=args.family,
                                          prob=prob)
    if len(fit.families) >= 3:
        draws = critical_batch(fit)
        rows = []
        for q in ("B_star", "alpha_B"):
            d = describe(draws[q], prob)
            rows.append({"quantity": q, "median": float(d["median"]),
                         "lower": float(d["lower"]), "upper": float(d["upper"])})
        print(f"critical batch size B_crit(L) = B_star / L^(1/alpha_B) (Kaplan et al. 2020), "
              f"{prob:.0%} bounds:")
        _print_table(pd.DataFrame(rows).set_index("quantity"))
        print()
    return table


def _optimal_teacher(fit, args, prob):
    """Zhang et al.'s optimal teacher N_T* = r N_S for each student --params, and the ratio r."""
    from ..errors import BayeslawsError
    from ..laws.capacity_gap import optimal_teacher_table

    _no_flags(args, "capacity-gap", ("flops", "tokens", "embed_dim", "unique_tokens",
                                      "exposures", "bits"))
    if args.params is None:
        raise BayeslawsError("a capacity-gap fit needs --params N_S (the student's parameters; "
                             "repeat for several students)")
    return optimal_teacher_table(fit, args.params, family=args.family, prob=prob)


def _optimal_mixture(fit, args, prob) -> None:
    """RegMix's question with its posterior: which candidate mixture is best, how probably, and
    the optimum's share of each source."""
    from ..data import read_table
    from ..errors import BayeslawsError

    if fit.law.name != "mixture":
        raise BayeslawsError(f"--mixture applies to a 'mixture' fit, not {fit.law.name!r}")
    _no_flags(args, "mixture", ("flops", "params", "tokens", "embed_dim", "unique_tokens",
                                "exposures", "bits"))
    candidates = read_table(args.candidates) if args.candidates else None
    choice = fit.optimal_mixture(candidates, family=args.family, prob=prob)
    print(f"best of {len(choice.candidates)} candidate mixtures, {prob:.0%} bounds of the loss "
          "(p_best: posterior probability of being the best candidate):")
    _print_table(choice.top(10).round(4))
    print()
    print("share of each source in the best mixture (posterior over draws):")
    _print_table(choice.table(prob).set_index("source").round(4))
    if args.out:
        _write_csv(choice.candidates, args.out, index=False)


def _bits_per_param(fit, args, prob):
    """Allen-Zhu & Li's capacity ratio (bits per parameter) at --exposures, and with --bits the
    parameters needed to store a knowledge base of that size."""
    from ..laws.knowledge import HEADLINE_EXPOSURES, bits_per_param_table

    _no_flags(args, "knowledge", ("flops", "params", "tokens", "embed_dim", "unique_tokens"))
    exposures = args.exposures or list(HEADLINE_EXPOSURES)
    return bits_per_param_table(fit, exposures, bits=args.bits, family=args.family, prob=prob)
