"""The file boundary: one reader of customer files, one writer that never harms a file, streaming, the spreadsheet
guard, and notebooks as they are saved.

* read: :mod:`~sonet_policy.files.read` (the one reader: paths, ``-``, uploaded bytes; one row-numbering rule)
  over the backends :mod:`~sonet_policy.files.read_csv`, :mod:`~sonet_policy.files.read_excel`,
  :mod:`~sonet_policy.files.read_parquet`; :mod:`~sonet_policy.files.encoding` (UTF-8 or Shift_JIS/CP932, on the
  whole file), :mod:`~sonet_policy.files.header` (headers onto inputs), :mod:`~sonet_policy.files.extensions`
  (the format of a path).
* write: :mod:`~sonet_policy.files.write` (atomic, never the baseline, special files, signals),
  :mod:`~sonet_policy.files.write_tables` and :mod:`~sonet_policy.files.write_excel` (tables and workbooks).
* stream: :mod:`~sonet_policy.files.stream` (a file of any size answered batch by batch) into
  :mod:`~sonet_policy.files.sinks`, with :mod:`~sonet_policy.files.arrow` (columns as the boundary needs them).
* guard: :mod:`~sonet_policy.files.guard`, the one rule against spreadsheet formulas.
* notebooks: :mod:`~sonet_policy.files.notebooks`, notebooks saved without widget state.

Nothing here imports the engine: the stream is handed the function that answers a batch.
"""
