"""Markdown tables and the number formats the report uses.

`Table` is how a suite adds its own results (the scaling suite's workers / speed-up / efficiency
table, the robustness suite's attack x rule table): the report renders it as a Markdown section
and results.json stores the same rows as data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from dist_llm_train.controller.summary_table import human_bytes
from dist_llm_train.errors import PreconditionError


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list]
    note: str = ""  # a sentence under the table: what it shows and how it was measured
    align: list[str] = field(default_factory=list)  # per column "l" | "r" | "c"; default: text left, numbers right

    def to_json(self) -> dict:
        return asdict(self)

    def to_markdown(self, level: int = 2) -> str:
        text = f"{'#' * level} {self.title}\n\n" + markdown_table(self.headers, self.rows, self.align or None)
        return text + (f"\n{self.note}\n" if self.note else "")


def _cell(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return fmt_num(v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence], align: Sequence[str] | None = None) -> str:
    """A GitHub Markdown table. Cells: None -> n/a, bool -> yes/no, float -> 4 significant digits,
    anything else str() with pipes escaped. Numeric columns are right-aligned unless `align` says."""
    n = len(headers)
    for i, r in enumerate(rows):
        if len(r) != n:
            raise PreconditionError(f"table row {i} has {len(r)} cells but there are {n} headers: {list(r)!r}")
    if align is None:
        align = ["r" if rows and all(isinstance(r[c], int | float) or r[c] is None for r in rows)
                 and any(isinstance(r[c], int | float) for r in rows) else "l" for c in range(n)]
    if len(align) != n:
        raise PreconditionError(f"align has {len(align)} entries for {n} columns")
    marks = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def fmt_num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def fmt_pct(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    if not math.isfinite(x):
        return str(x)
    return f"{x:+.1%}" if signed else f"{x:.1%}"


def fmt_factor(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3g}x"


def fmt_bytes(n: float | None) -> str:
    return "n/a" if n is None else human_bytes(n)


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "n/a"
    if s >= 3600:
        return f"{s / 3600:.2f} h"
    return f"{s:.4g} s"


def fmt_measured(value: float | None, unit: str) -> str:
    """A checklist number in the unit the item states."""
    if unit == "relative":
        return fmt_pct(value, signed=True)
    if unit == "fraction":
        return fmt_pct(value)
    if unit == "x":
        return fmt_factor(value)
    if unit == "GB/h":
        return "n/a" if value is None else f"{fmt_num(value)} GB/h"
    return fmt_num(value)
