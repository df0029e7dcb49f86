"""The stories behind evals/scenarios: each builder returns one scenario document, which
evals/scenarios/_generate.py writes as YAML (it holds the table of which builder writes which file).

    from evals._stories import freshness_late
    from evals._stories.documents import dump
    text = dump(freshness_late.daily_revenue_oom_after_deploy())  # the YAML of one scenario file

documents (YAML, times, CloudEvents, expectations), spark (a nightly job's evidence and policy) and kafka (records,
streams, framing, shared contracts) are what the stories are made of; freshness_late, freshness_written,
contract_breaks, contract_blame and contract_topics are the stories. Everything here is deterministic: each builder
draws from its own random.Random(seed), and its expectations come from what it sent, never from the detectors.
"""
