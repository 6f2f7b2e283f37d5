"""The rule book as data: the records (``model.py``), loading and validating a folder (``load.py``, reading
each CSV as text in ``csvfile.py``, ``inputs.csv`` in ``inputs.py``, the decision tables and constraints in
``tables.py``), the cell grammar (``conditions.py``), the compiled grids (``compile.py``), the cross-decision
invariants the book declares (``invariants.py``), recorded readings (``readings.py``), scopes (``scope.py``), and
one typed cache per book (``cache.py``). Nothing here imports the engine or anything above it.
"""
