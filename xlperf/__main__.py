"""``python -m xlperf``: the same commands as the ``xlperf`` script."""

from xlperf.cli import main

if __name__ == "__main__":  # not when a fork server or spawned process imports it
    main()
