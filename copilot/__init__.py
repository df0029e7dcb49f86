"""copilot: see DESIGN.md."""
