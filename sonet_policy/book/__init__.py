"""The rule book as data: load and validate the tables (``rules.py``), the cell grammar (``conditions.py``), the
compiled grids (``compile.py``), cross-decision invariants, readings (encoding choices), scopes, and one typed
cache per book (``cache.py``).
"""
