"""`python -m autopilot ...` is the same as the `autopilot` command."""

from .cli import main

raise SystemExit(main())
