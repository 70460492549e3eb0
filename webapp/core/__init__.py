"""The kernel every feature may use: it imports no feature, and no Flask where it can avoid it.

* ``clock``  the app's clock (``utcnow``, ``monotonic``), which tests can hold still;
* ``money``  exact decimals: parsing, rounding to 8 places, showing to people;
* ``errors`` ``StorehouseError`` (the base of every domain error) and ``ConfigurationError``;
* ``text``   what a text field accepts beyond its length;
* ``bodies`` strict JSON request bodies (pydantic): ``Body``, ``parse_body``;
* ``forms``  form validators that speak in the label's words, and ``ConfirmForm``.
"""
