"""evals: replay scenario files, check every expectation, and score how well the RCA is grounded in evidence.

    from evals import run_eval, write_report
    result = run_eval(["evals/scenarios"], "adversarial", oracle=["evals/oracle"])  # or "default", "llm"
    print(result.passed, result.failed, result.metrics["overall"]["proposer_text_rate"]["value"])
    write_report(result, Path("eval.html"))                                        # or eval.md
"""

from evals._adversarial import ChaosClaim, ChaosComposer
from evals._checks import Observed, check
from evals._cli import eval_command
from evals._metrics import DEFINITIONS, GroundingSample, Tally, summarize, tally
from evals._oracle import OracleResult, run_oracle
from evals._report import render_html, render_markdown, write_report
from evals._runner import COMPOSER_MODES, EvalResult, ScenarioResult, make_composer, run_eval, scenario_files

__all__ = [
    "COMPOSER_MODES",
    "DEFINITIONS",
    "ChaosClaim",
    "ChaosComposer",
    "EvalResult",
    "GroundingSample",
    "Observed",
    "OracleResult",
    "ScenarioResult",
    "Tally",
    "check",
    "eval_command",
    "make_composer",
    "render_html",
    "render_markdown",
    "run_eval",
    "run_oracle",
    "scenario_files",
    "summarize",
    "tally",
    "write_report",
]
