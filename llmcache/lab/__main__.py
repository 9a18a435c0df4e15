"""``python -m llmcache.lab``: see :mod:`llmcache.lab.cli`."""

from .cli import main

raise SystemExit(main())
