"""``python -m xlperf``: the same commands as the ``xlperf`` script."""

from xlperf.cli import main

main()
