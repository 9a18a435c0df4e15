"""``python -m llmcache doctor``: see :mod:`llmcache._doctor`."""

from ._doctor import main

if __name__ == "__main__":
    raise SystemExit(main())
