"""`python -m ganzoo` (what torchrun launches) is the `ganzoo` command."""

from .cli import main

raise SystemExit(main())
