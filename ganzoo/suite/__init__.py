"""Benchmark suites: declarative (TOML), resumable, run by local worker processes or on Ray (see docs/suites.md).

`resolve_suite(name_or_file)` -> Suite; `run_suite(suite, out)` trains and measures every unfinished run;
`suite_status(SuiteFolder(out))` says where each run stands; `write_table(SuiteFolder(out))` writes the table.
"""

from ganzoo.suite.runner import SuiteFolder, resolve_suite, run_suite, suite_status
from ganzoo.suite.spec import Suite, SuiteRun, expand
from ganzoo.suite.table import write_table

__all__ = ["Suite", "SuiteFolder", "SuiteRun", "expand", "resolve_suite", "run_suite", "suite_status",
           "write_table"]
