"""What the tests share: helpers that test modules import, and the plugins that
``tests/conftest.py`` loads for every run: the fixture modules (``tests.support.fixtures``) and
``tests.support.xdist_groups`` (which tests share one worker under pytest-xdist).

Test modules import from here (and from ``bench.datasets``), never from one another.
"""
