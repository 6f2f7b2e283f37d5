"""The floor of ``evaluate --input F --output G``: the plain pipeline anyone would write with pyarrow and the kit.

pyarrow's streaming CSV reader with 16 MB blocks (every column text), :func:`sonet_policy.evaluate` per record
batch (the first six columns named as the inputs), the answers cast from their dictionaries to text, pyarrow's
CSV writer. No encoding detection, no header aliases, no blank-line handling, no formula guard, no temporary
file and no rename: what no pipeline that keeps the kit's guarantees can beat. ``bench_stream.py`` times this
script and the command as whole processes, start-up included, on the same file in the same run.

    python benchmarks/floor_stream.py big.csv answers.csv
"""

from __future__ import annotations

import sys

import pyarrow as pa
import pyarrow.csv as pcsv

from sonet_policy import evaluate

INPUTS = ["area", "plan", "device", "setup", "keep_number", "days_since_phone_stop"]


def stream(source: str, target: str) -> int:
    """Answer every row of the CSV ``source`` into the CSV ``target``; returns the rows read."""
    with open(source, "rb") as handle:
        header = handle.readline().decode("utf-8-sig").rstrip("\r\n").split(",")
    reader = pcsv.open_csv(
        source,
        read_options=pcsv.ReadOptions(block_size=16 << 20),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
    )
    writer, rows = None, 0
    for batch in reader:
        frame = batch.select(range(len(INPUTS))).rename_columns(INPUTS).to_pandas()
        answers = pa.Table.from_pandas(evaluate(frame), preserve_index=False)
        columns = [*batch.columns, *(c.cast(pa.string()) for c in answers.columns)]
        table = pa.Table.from_arrays(columns, names=[*batch.schema.names, *answers.column_names])
        if writer is None:
            writer = pcsv.CSVWriter(target, table.schema)
        writer.write_table(table)
        rows += batch.num_rows
    if writer is not None:
        writer.close()
    return rows


if __name__ == "__main__":
    print(f"{stream(*sys.argv[1:3])} rows", file=sys.stderr)
