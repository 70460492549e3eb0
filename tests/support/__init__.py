"""What the tests share: helpers that test modules import, and the fixture modules
(``tests.support.fixtures``) that ``tests/conftest.py`` loads for every test.

Test modules import from here (and from ``bench.datasets``), never from one another.
"""
