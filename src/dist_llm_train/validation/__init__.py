"""Validation harness: a baseline and an experimental run compared on the same data, model, seed and
sample budget, scored by a checklist, written up as report.md, PNG plots and results.json.

The suites and the runner decide what to run; this package turns finished RunResults into the
verdict: checklist.py (items), figures.py (every derived number), plots.py, report.py, results.py,
and assemble.py (all of it in one call).
"""
