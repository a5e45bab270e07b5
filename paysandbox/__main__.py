"""`python -m paysandbox` is `paysandbox`."""

from paysandbox.cli import main

raise SystemExit(main())
