"""guardrails: see DESIGN.md."""
