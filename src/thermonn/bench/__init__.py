"""Compute-matched benchmark harness for TEL: tasks, model families, matching, runs, reports.

A benchmark cell is (task × model × budget × seed [× depth]); :func:`run_sweep` runs cells
resumably into ``rows.jsonl`` and :func:`write_report` turns the rows into tables and plots.
"""

from thermonn.bench.cells import BUDGETS, Cell, RunOptions, plan
from thermonn.bench.families import FAMILIES, Family
from thermonn.bench.matching import Match, count_flops, count_parameters, match_width
from thermonn.bench.rows import RowFile, load_rows, read_rows
from thermonn.bench.runner import check_folder, run_cell, run_sweep
from thermonn.bench.suites import SUITES, cells_for
from thermonn.bench.tasks import TASKS, Task, get_task

__all__ = [
    "BUDGETS",
    "FAMILIES",
    "SUITES",
    "TASKS",
    "Cell",
    "Family",
    "Match",
    "RowFile",
    "RunOptions",
    "Task",
    "cells_for",
    "check_folder",
    "count_flops",
    "count_parameters",
    "get_task",
    "load_rows",
    "match_width",
    "plan",
    "read_rows",
    "run_cell",
    "run_sweep",
]
