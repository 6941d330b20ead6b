"""The commands that read runs or fits and write tables, fits, figures and reports."""

from __future__ import annotations

import os
import sys

from .output import (_check_folder, _fit_options, _note_approximate, _print_densing,
                     _print_table, _read_runs, _source, _write_csv)

def cmd_datasets(args) -> None:
    from .. import datasets

    _print_table(datasets.table().set_index("name"))


def cmd_laws(args) -> None:
    import pandas as pd

    from .. import laws

    def inputs(law) -> str:  # a mixture's 17 sources would stretch the table: name a few
        names = list(law.inputs)
        if len(names) <= 5:
            return ", ".join(names)
        return f"{', '.join(names[:3])}, ... ({len(names)} inputs)"

    rows = [{"name": n, "formula": laws.get(n).formula_text, "inputs": inputs(laws.get(n)),
             "target": laws.get(n).target} for n in laws.available()]
    _print_table(pd.DataFrame(rows).set_index("name"))


def cmd_fit(args) -> None:
    from .. import datasets, laws
    from ..data import read_table
    from ..errors import BayeslawsError
    from ..sampling import SETTINGS

    sampler = {}
    if args.law.endswith((".yaml", ".yml")) or os.path.isfile(args.law):
        from ..spec import load_spec

        try:
            spec = load_spec(args.law)
        except (UnicodeDecodeError, OSError) as exc:  # a fit file or another non-text file
            raise BayeslawsError(f"{args.law} is neither a law name nor a model spec (YAML): "
                                 f"{type(exc).__name__}; give a law ({', '.join(laws.available())}) "
                                 "with --data, or a models/*.yaml spec") from None
        law = spec.law()
        if args.data:
            raise BayeslawsError("a spec names its own data; drop --data or fit the law by name")
        data = spec.train_data(sep=args.sep)
        source = spec.source().merged(_source(args))
        sampler = dict(spec.sampler)
        out = args.out or f"{spec.name}.nc"
        _check_folder(out)
    else:
        options = {}
        if args.input:
            options["input"] = args.input
        if args.pooling:
            options["pooling"] = args.pooling
        for key in ("sources", "form"):  # the mixture law's options
            if getattr(args, key):
                options[key] = getattr(args, key)
        law = laws.get(args.law, **options)
        if not args.data:
            raise BayeslawsError("--data is required: a CSV path or a bundled dataset name "
                                 f"({', '.join(datasets.names())})")
        if not args.out:
            raise BayeslawsError("--out is required: the fit file to write, e.g. --out fit.nc")
        out = args.out
        _check_folder(out)
        if args.data in datasets.names() and not os.path.exists(args.data):
            meta = datasets.CATALOGUE[args.data]
            data = datasets.load(args.data, fit_rows=not args.all_rows)
            if meta.fit_query and not args.all_rows:
                print(f"note: {meta.fit_query_reason} (--all-rows to use all)", file=sys.stderr)
        else:
            data = read_table(args.data, sep=args.sep)
        source = _source(args)
    for key in SETTINGS:
        if getattr(args, key) is not None:
            sampler[key] = getattr(args, key)
    if args.no_extrapolation:
        sampler["extrapolation"] = None
    if args.quick:  # the quick approximate fit (bayeslaws.laplace); NUTS settings do not apply
        sampler["method"] = "laplace"
    fit = law.fit(data, progress=not args.quiet, **sampler, **_fit_options(source))
    if fit.config.get("extrapolation"):
        # Learn the discrepancy now, so the saved fit forecasts beyond its data honestly.
        from .. import extrapolation

        if not args.quiet and extrapolation.OWN_WEIGHT > 0:
            print("note: learning the extrapolation discrepancy from backtests on the smaller "
                  "runs (--no-extrapolation skips it)", file=sys.stderr)
        found = extrapolation.fit_discrepancy(fit, progress=not args.quiet)
        if not args.quiet:
            s = found.summary()
            unit = "fitted-range width" if found.relative else "decade"
            whence = (f"from {found.folds} backtests" if found.folds else
                      "the population learned from the calibration corpus (docs/calibration.md)")
            print(f"note: extrapolation discrepancy tau {s['median']:.4f} per {unit} beyond the "
                  f"data [{s['lower']:.4f}, {s['upper']:.4f}], {whence}", file=sys.stderr)
    fit.save(out)
    _note_approximate(fit)
    if not args.quiet:
        _print_table(fit.summary())
        if law.name == "densing" and "date" in fit.data:
            _print_densing(fit, 0.9)
    print(f"wrote {out}", file=sys.stderr)


def cmd_predict(args) -> None:
    import pandas as pd

    from ..errors import BayeslawsError
    from ..io import load
    from ..intervals import check_prob

    prob = check_prob(args.prob)
    fit = load(args.fit)
    inline = any(v for v in (args.params, args.tokens, args.flops, args.family_name,
                             args.frontier))
    if inline and args.data:
        raise BayeslawsError("give rows either in a file (--data) or inline (--params, --tokens, "
                             "--flops, --frontier, --family), not both; with --data, "
                             "--family-column names the family column")
    if not inline and not args.data:
        raise BayeslawsError("nothing to predict: give --data FILE, or rows inline, e.g. "
                             "--params 1e10 --tokens 2e11, or --flops 1e23 --frontier")
    if args.chain and inline:
        raise BayeslawsError("--chain reads its rows from --data")
    if inline:
        from .predict_rows import frontier_table, inline_rows

        if args.frontier:
            table = frontier_table(fit, args, prob)
        else:
            canonical = inline_rows(fit, args)
            pred = fit.predict(canonical, seed=args.seed, new_families=args.new_family)
            table = pred.summary(prob)
    else:
        if args.chain:
            from ..chain import chain

            first = load(args.chain)
            rows, canonical = _read_runs(args, first, args.data)
            pred = chain(first, fit).predict(canonical, seed=args.seed)
            table = pred.interval(prob)
            _note_approximate(first)
        else:
            rows, canonical = _read_runs(args, fit, args.data)
            pred = fit.predict(canonical, seed=args.seed, new_families=args.new_family)
            table = pred.summary(prob)
        # the input columns as the user gave them (names and units), then the forecast columns
        table = pd.concat([rows.reset_index(drop=True),
                           table.iloc[:, len(canonical.columns):].reset_index(drop=True)], axis=1)
    unit = (load(args.chain) if args.chain else fit).config.get("loss_unit")
    if fit.law.target in ("loss", "task_loss") and unit not in (None, "nats"):
        print(f"note: forecasts are in nats per token (the fit converted its {unit} to nats)",
              file=sys.stderr)
    if "extrapolation" in table and (table["extrapolation"] > 1).any():
        far = table["extrapolation"].max()
        print(f"note: {(table['extrapolation'] > 1).sum()} of {len(table)} rows lie beyond the "
              f"fitted range (farthest: {far:.3g}x, in compute or a scale input; column "
              "'extrapolation'); "
              + ("their intervals include the extrapolation discrepancy"
                 if fit.config.get("extrapolation", "backtest") else
                 "this fit has no extrapolation discrepancy (--no-extrapolation), so their "
                 "intervals are too narrow there"), file=sys.stderr)
    _note_approximate(fit)
    if args.out:
        _write_csv(table, args.out, index=False)
        print(f"wrote {args.out} ({len(table)} rows)", file=sys.stderr)
    else:
        _print_table(table)


def cmd_compare(args) -> None:
    from ..io import load
    from ..compare import compare

    from ..errors import BayeslawsError

    if len(args.fits) < 2:
        raise BayeslawsError("compare needs at least two FIT.nc files")
    fits, short = {}, {}
    for path in args.fits:
        fit = load(path)
        label = f"{fit.law.name} ({os.path.basename(path)})"  # e.g. "chinchilla (a.nc)"
        label = label if label not in fits else f"{fit.law.name} ({path})"
        fits[label], short[label] = fit, fit.law.name
    if args.out:
        _check_folder(args.out)
    refit = {"draws": args.refit_draws, "tune": args.refit_draws} if args.refit_draws else None
    holdout = None
    if args.holdout:
        holdout = _read_runs(args, next(iter(fits.values())), args.holdout, fit_query=True)[1]
    table = compare(fits, fallback=args.fallback, max_refits=args.max_refits, folds=args.folds,
                    refit=refit, extrapolation=not args.no_extrapolation, holdout=holdout,
                    progress=not args.quiet)
    if args.long:
        _print_table(table)
    else:
        from ..compare import brief_table

        _print_table(brief_table(table))
    for note in table.attrs["notes"]:
        print(f"note: {note}")
    if not args.long and (table["diag_diff"] == "N < 100").any():
        print(f"note: {len(next(iter(fits.values())).data)} runs (fewer than 100): read an elpd "
              "difference against its se: within 2 se it is no clear difference")
    if args.long:
        print(f"verdict: {table.attrs['verdict']}")
    else:
        from ..compare import plain_verdict

        print(f"verdict: {plain_verdict(table, short)}")
    if args.out:
        _write_csv(table, args.out)


def cmd_plot(args) -> None:
    from ..errors import BayeslawsError
    from ..io import load
    from ..plots import plot

    _check_folder(args.out)
    fit = load(args.fit)
    if args.flops is not None and not args.flops > 0:
        raise BayeslawsError(f"--flops must be a positive number of FLOPs, not {args.flops:g}")
    kwargs = {}
    if args.holdout:
        if args.kind not in ("fit", "forecast"):
            raise BayeslawsError("--holdout applies to --kind fit and forecast")
        kwargs["holdout"] = _read_runs(args, fit, args.holdout)[1]
    if args.tokens_per_param is not None:
        if args.kind != "forecast":
            raise BayeslawsError("--tokens-per-param applies to --kind forecast")
        if not args.tokens_per_param > 0:
            raise BayeslawsError(f"--tokens-per-param must be positive, not "
                                 f"{args.tokens_per_param:g}")
        kwargs["tokens_per_param"] = args.tokens_per_param
    if args.kind == "forecast":
        kwargs["target"] = args.flops
    elif args.kind == "isoflop":
        kwargs["budgets"] = [args.flops] if args.flops else None
        kwargs["family"] = args.family
    elif args.kind == "design":
        kwargs.update(target=args.target_flops, budget=args.budget, family=args.family)
    elif args.kind == "mixture" and args.flops is None:
        kwargs["family"] = args.family
    elif args.flops is not None or args.family is not None:
        raise BayeslawsError("--flops and --family apply to --kind forecast and isoflop")
    if args.kind != "design" and (args.target_flops is not None or args.budget is not None):
        raise BayeslawsError("--target-flops and --budget apply to --kind design")
    plot(fit, args.kind, args.out, **kwargs)
    _note_approximate(fit)
    print(f"wrote {args.out}", file=sys.stderr)


def cmd_design(args) -> None:
    from ..data import read_table
    from ..io import load

    if args.out:
        _check_folder(args.out)
    fit = load(args.fit)
    _note_approximate(fit)
    candidates = read_table(args.candidates) if args.candidates else None
    result = fit.design(target=args.target_flops, budget=args.budget, candidates=candidates,
                        quantity=args.quantity, family=args.family, seed=args.seed)
    after = result.width90_now * result.sd_after / result.sd_now
    print(f"{args.quantity} at {args.target_flops:.3g} FLOPs: 90% width {result.width90_now:.4f}"
          f" (log scale) now; proposed {len(result.proposal)} "
          f"run{'s' if len(result.proposal) != 1 else ''}, {result.spent:.3g} of "
          f"{result.budget:.3g} FLOPs, expected width {after:.4f}")
    _print_table(result.proposal.set_index("order"))
    if args.out:
        _write_csv(result.table(), args.out, index=False)
        print(f"wrote {args.out} ({len(result.candidates)} candidates)", file=sys.stderr)


def cmd_report(args) -> None:
    from ..io import load
    from ..errors import BayeslawsError
    from ..report import write_report

    _check_folder(args.out)
    if args.flops is not None and not args.flops > 0:
        raise BayeslawsError(f"--flops must be a positive number of FLOPs, not {args.flops:g}")
    fit = load(args.fit)
    holdout = _read_runs(args, fit, args.holdout)[1] if args.holdout else None
    write_report(fit, args.out, target=args.flops, holdout=holdout, progress=not args.quiet)
    _note_approximate(fit)
    print(f"wrote {args.out}", file=sys.stderr)


def cmd_demo(args) -> None:
    from ..demo import run

    run(args.out, draws=args.draws, tune=args.tune, chains=args.chains, seed=args.seed,
        progress=not args.quiet)
