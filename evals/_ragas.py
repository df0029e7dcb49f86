"""ragas over RCAs: the one module that imports ragas.

The id-based and non-LLM metrics run offline and deterministically. The LLM metrics (Faithfulness,
ResponseGroundedness) run only when a chat model is handed in, wrapped and passed to each metric explicitly:
a ragas LLM metric without one builds an OpenAI client of its own (docs/ARCHITECTURE.md, "Dependency notes").
"""

from __future__ import annotations

import asyncio
import math
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from evals._metrics import GroundingSample

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # before ragas is imported: it reads this once


@contextmanager
def _quiet_ragas() -> Iterator[None]:
    """ragas 0.4.3 deprecates the single-turn metric classes and the LangChain wrapper it still needs for a
    LangChain model; those two notices, and only those, are silenced (the suite runs with -W error)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"LangchainLLMWrapper is deprecated", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r"Importing \w+ from 'ragas\.metrics' is deprecated",
                                category=DeprecationWarning)
        yield


with _quiet_ragas():
    # The private modules: ragas.metrics' own names warn on access, and ragas.metrics.collections has no
    # id-based or non-LLM context metrics in 0.4.3.
    from ragas.dataset_schema import SingleTurnSample
    from ragas.metrics._context_precision import IDBasedContextPrecision, NonLLMContextPrecisionWithReference
    from ragas.metrics._context_recall import IDBasedContextRecall, NonLLMContextRecall
    from ragas.metrics.base import SingleTurnMetric

Scores = dict[str, float | None]


def _offline_metrics() -> dict[str, SingleTurnMetric]:
    return {"id_based_context_precision": IDBasedContextPrecision(),
            "id_based_context_recall": IDBasedContextRecall(),
            "non_llm_context_precision": NonLLMContextPrecisionWithReference(),
            "non_llm_context_recall": NonLLMContextRecall()}


def _llm_metrics(chat_model: Any) -> dict[str, SingleTurnMetric]:
    """Faithfulness and ResponseGroundedness with `chat_model` (a LangChain chat model) passed explicitly."""
    with _quiet_ragas():
        from ragas.llms import LangchainLLMWrapper
        from ragas.metrics._faithfulness import Faithfulness
        from ragas.metrics._nv_metrics import ResponseGroundedness
        from ragas.run_config import RunConfig

        llm = LangchainLLMWrapper(chat_model, run_config=RunConfig(max_retries=1, timeout=120))
    return {"faithfulness": Faithfulness(llm=llm), "response_groundedness": ResponseGroundedness(llm=llm)}


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _settle_usage_id() -> None:
    """ragas builds a usage event for every score and every LLM call, tracking off or not, and each needs a user
    id that ragas reads from (or first writes to) ~/.local/share/ragas/uuid.json, leaving the file open (a
    ResourceWarning). The id is cached per process: settle it once in a throwaway folder, so that an offline
    harness never touches the home folder."""
    from ragas._analytics import get_userid

    if get_userid.cache_info().currsize:
        return
    previous = os.environ.get("XDG_DATA_HOME")
    with tempfile.TemporaryDirectory(prefix="rca-ragas-") as folder:
        os.environ["XDG_DATA_HOME"] = folder  # appdirs' user_data_dir on Linux and the BSDs
        try:
            get_userid()
        finally:
            if previous is None:
                del os.environ["XDG_DATA_HOME"]
            else:
                os.environ["XDG_DATA_HOME"] = previous


async def _score_one(sample: GroundingSample, offline: dict[str, SingleTurnMetric],
                     judged: dict[str, SingleTurnMetric]) -> Scores:
    scores: Scores = {}
    if sample.reference_ids:
        if sample.retrieved_ids:
            row = SingleTurnSample(retrieved_context_ids=sample.retrieved_ids,
                                   reference_context_ids=sample.reference_ids,
                                   retrieved_contexts=sample.retrieved_contexts,
                                   reference_contexts=sample.reference_contexts)
            for name, metric in offline.items():
                scores[name] = _number(await metric.single_turn_ascore(row))
        else:  # an RCA that cites nothing retrieved nothing: recall 0, precision undefined (ragas would assert)
            scores.update(id_based_context_precision=None, id_based_context_recall=0.0,
                          non_llm_context_precision=None, non_llm_context_recall=0.0)
    if judged and sample.response and sample.retrieved_contexts:
        row = SingleTurnSample(user_input=sample.user_input, response=sample.response,
                               retrieved_contexts=sample.retrieved_contexts)
        for name, metric in judged.items():
            scores[name] = _number(await metric.single_turn_ascore(row))
    return scores


def score_samples(samples: Sequence[GroundingSample], chat_model: Any = None) -> list[Scores]:
    """ragas scores per sample, one after the other on a private event loop (same input, same scores offline)."""
    if not samples:
        return []
    _settle_usage_id()
    offline = _offline_metrics()
    judged = _llm_metrics(chat_model) if chat_model is not None else {}

    async def run_all() -> list[Scores]:
        return [await _score_one(sample, offline, judged) for sample in samples]

    with _quiet_ragas():
        return asyncio.run(run_all())
