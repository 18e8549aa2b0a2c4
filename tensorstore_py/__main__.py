"""``python -m tensorstore_py``: the ``tensorstore-py`` command."""

from .cli import main

raise SystemExit(main())
