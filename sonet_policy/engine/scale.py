"""Evaluate a customer base larger than one machine's memory, or spread over a cluster, with Dask.

:func:`evaluate_dask` takes a Dask DataFrame and returns one, partition by partition: each partition is
answered by :func:`sonet_policy.engine.evaluate.evaluate`, so every row keeps its index and order, and invalid rows
come back ``invalid`` with their error. The rule book is compiled once, here, and shipped to the workers once
(one task in the graph that every partition depends on; with a ``dask.distributed`` client it is scattered to
every worker first), never once per partition.

To run it on a cluster, connect a client before calling it (the workers need ``sonet-policy`` installed)::

    from dask.distributed import Client
    import dask.dataframe as dd
    client = Client("tcp://scheduler:8786")
    customers = dd.read_csv("s3://bucket/customers-*.csv", dtype=str, keep_default_na=False)
    answers = evaluate(customers)            # a Dask DataFrame; nothing runs yet
    answers.to_parquet("s3://bucket/answers/")

The answer columns are categorical with known categories (the codes of each decision), except ``error``, whose
messages depend on the rows and whose categories are therefore unknown to Dask until computed (and ``rules``
for a book whose combinations of outcomes are too many to table once). Set
``dask.config.set({"dataframe.convert-string": False})`` to keep string columns as pandas gives them.

>>> import dask.dataframe as dd
>>> import pandas as pd
>>> frame = pd.DataFrame([dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router",
...                            keep_number="no", days_since_phone_stop="31")] * 4)
>>> evaluate_dask(dd.from_pandas(frame, npartitions=2)).compute()["ipv4"].tolist()
['pppoe_router', 'pppoe_router', 'pppoe_router', 'pppoe_router']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.frame import evaluate_frame
from sonet_policy.engine.large import answer_large
from sonet_policy.engine.tables import rules_categories_known

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd


def _answer_partition(part: pd.DataFrame, book: RuleBook) -> pd.DataFrame:
    large = answer_large(part, book)  # a large partition, the quicker way (None: the plain path answers it)
    return large if large is not None else evaluate_frame(part, rulebook=book)


def _shipped(book: RuleBook):
    """The rule book as one object every partition task depends on (scattered when a client is running)."""
    import dask

    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        return client.scatter(book, broadcast=True, hash=False)
    return dask.delayed(book, name=f"sonet-rulebook-{book.hash}", traverse=False)


def evaluate_dask(ddf: dd.DataFrame, *, rulebook: RuleBook | None = None) -> dd.DataFrame:
    """Answer every row of the Dask DataFrame ``ddf``; returns a Dask DataFrame (lazy, same partitions and index).

    Columns and dtypes are those of :func:`sonet_policy.engine.evaluate.evaluate`. Raises ``TypeError`` when ``ddf``
    is not a Dask DataFrame.
    """
    import dask.dataframe as dd
    from dask.dataframe.utils import clear_known_categories

    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"evaluate_dask takes a Dask DataFrame, not {type(ddf).__name__}")
    book = rulebook or default_rulebook()
    book.compiled()  # compile once, here: the workers receive the compiled book ...
    meta = evaluate_frame(ddf._meta, rulebook=book)  # ... with its answer tables built (the meta is the empty answer)
    unknown = ["error"] if rules_categories_known(book) else ["error", "rules"]  # rules: tabled when small
    meta = clear_known_categories(meta, cols=unknown)
    return ddf.map_partitions(_answer_partition, _shipped(book), meta=meta, align_dataframes=False)
