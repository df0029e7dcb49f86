"""`rca eval PATH... [--composer default|llm|adversarial] [--oracle DIR] [--json] [--report FILE.md|FILE.html]`.

The command function lives here so that rca/cli.py only declares the options; it returns the exit code:
0 when every scenario (and every labelled oracle answer) passed, 1 when any failed, 2 for a usage mistake (nothing
was run).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import orjson

from evals._report import HTML_SUFFIXES, MARKDOWN_SUFFIXES, cell, write_report
from evals._runner import COMPOSER_MODES, EvalResult, run_eval
from evidence import ConfigError

_SHOWN = ("scenario_pass_rate", "detection_precision", "detection_recall", "reason_code_accuracy",
          "boundary_accuracy", "deploy_attribution_accuracy", "citation_recall", "citation_precision",
          "proposer_text_rate", "inconclusive_precision", "inconclusive_recall", "id_based_context_precision",
          "id_based_context_recall", "non_llm_context_precision", "non_llm_context_recall", "faithfulness",
          "response_groundedness", "chaos_claims", "oracle_hostile_surfaced", "oracle_true_accepted")


def eval_command(paths: list[Path], composer: str, as_json: bool, report: Path | None,
                 oracle: list[Path] | None = None, env: Mapping[str, str] | None = None) -> int:
    """`rca eval`; `env`: the model settings of `--composer llm` (rca's Settings.model_environment())."""
    out, err = sys.stdout, sys.stderr
    if composer not in COMPOSER_MODES:
        err.write(f"error: --composer {composer!r}: choose one of {', '.join(COMPOSER_MODES)}\n")
        return 2
    if report is not None and report.suffix.lower() not in MARKDOWN_SUFFIXES + HTML_SUFFIXES:
        err.write(f"error: --report {report}: the report is markdown (.md) or HTML (.html)\n")
        return 2
    try:
        result = run_eval(paths, composer, oracle=oracle or (), env=env)
    except ConfigError as exc:
        err.write(f"error: {exc}\n")
        return 2
    if report is not None:
        write_report(result, report)
    if as_json:
        out.write(orjson.dumps(result.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print_summary(result, out)
    if report is not None:
        err.write(f"wrote {report}\n")
    return 0 if result.ok else 1


def print_summary(result: EvalResult, out: TextIO) -> None:
    """One line per scenario (failures indented under it), the overall metrics, and the tally line."""
    for s in result.scenarios:
        out.write(f"{'ok  ' if s.passed else 'FAIL'} {s.name}  ({s.file})\n")
        for failure in s.failures:
            out.write(f"       - {failure}\n")
    out.write(f"\nmetrics (composer: {result.composer})\n")
    overall = result.metrics["overall"]
    for name in _SHOWN:
        if name in overall:
            out.write(f"  {name:<30}{cell(overall[name])}\n")
    if result.oracle is not None:
        labelled = result.oracle
        out.write(f"\noracle: {labelled.answers} labelled answers, {len(labelled.failures)} not handled as labelled\n")
        for failure in labelled.failures:
            out.write(f"       - {failure}\n")
    out.write(f"\n{result.passed} passed, {result.failed} failed\n")
