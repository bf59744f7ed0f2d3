"""``python -m xlperf``: the same commands as the ``xlperf`` script."""

if __name__ == "__main__":  # not when a fork server or spawned process imports it (as __mp_main__)
    from xlperf.cli import main

    main()
