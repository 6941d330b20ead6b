"""Worked examples that the documentation shows and the tests run (one source for both)."""

from __future__ import annotations


def markdown(frame, floatfmt: str = ".3g", index: bool = True) -> str:
    """A DataFrame as a Markdown table (without the optional ``tabulate`` dependency)."""
    def cell(v):
        if isinstance(v, float):
            return format(v, floatfmt)
        return str(v)

    cols = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for key, row in frame.iterrows():
        cells = ([str(key)] if index else []) + [cell(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
