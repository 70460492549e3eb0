"""Storehouse's benchmark: ``make bench`` (``python -m bench``); see ``bench.run``."""
