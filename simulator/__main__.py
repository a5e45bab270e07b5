"""`python -m simulator` is `paysandbox`."""

from simulator.cli import main

raise SystemExit(main())
