"""Dask: evaluate a Dask DataFrame partition by partition on a dask.distributed LocalCluster, same answers as pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import evaluate

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from sonet_policy.engine.scale import evaluate_dask  # noqa: E402  (after the optional imports)


@pytest.fixture(scope="module", autouse=True)
def keep_pandas_strings():
    with dask.config.set({"dataframe.convert-string": False}):
        yield


@pytest.fixture()
def client():
    with (
        distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """2,000 customers as a CSV holds them (text), some invalid, with an index that is not 0..n-1."""
    rng = np.random.default_rng(5)
    book = default_rulebook()
    n = 2000
    models = list(book.models) + ["pr-600ki", "ＲＶ－２３０ＳＥ", "PR-700KI", ""]
    out = pd.DataFrame(
        {
            "area": rng.choice(["east", "west", "西日本", "north"], n, p=[0.45, 0.45, 0.05, 0.05]),
            "plan": rng.choice(["10g", "sml", "other"], n),
            "device": rng.choice(models, n),
            "setup": rng.choice(["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"], n),
            "keep_number": rng.choice(["yes", "no", "true", "false", "maybe"], n),
            "days_since_phone_stop": rng.choice(["", "0", "31", "32", "400", "-3"], n),
        },
        index=pd.Index(rng.permutation(n) * 7 + 3, name="customer"),
    )
    return out


def _same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert got.index.equals(expected.index)
    for col in expected.columns:
        assert isinstance(got[col].dtype, pd.CategoricalDtype), col
        pd.testing.assert_series_equal(got[col].astype(object), expected[col].astype(object), check_names=True)
        if col != "error":  # error messages depend on the rows of each partition; the others are the book's codes
            assert list(got[col].cat.categories) == list(expected[col].cat.categories), col


def test_dask_on_a_local_cluster_gives_the_pandas_answers(client, frame, row_by_row, same_answers):
    ddf = dd.from_pandas(frame, npartitions=5, sort=False)
    answers = evaluate_dask(ddf)
    assert isinstance(answers, dd.DataFrame)
    assert answers.npartitions == 5
    expected = evaluate(frame)
    _same(answers.compute(), expected)
    assert set(expected["status"]) >= {"ok", "conflict", "partial", "uncovered"}  # the sample covers these statuses
    same_answers(expected, row_by_row(frame))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Sending large graph:UserWarning")  # (the frame travels in the graph: a test)
def test_large_partitions_answer_as_row_by_row(client, frame, row_by_row):
    """Partitions of 120,000 rows (each answered the quicker way of a large frame): every row as alone."""
    large = frame.sample(240_000, replace=True, random_state=1).reset_index(drop=True).astype("str")
    got = evaluate_dask(dd.from_pandas(large, npartitions=2, sort=False)).compute()
    want = row_by_row(large)
    assert got.index.equals(want.index)
    for col in want.columns:
        assert got[col].astype(object).where(got[col].notna(), None).tolist() == want[col].tolist(), col


def test_evaluate_routes_a_dask_frame_to_dask(client, frame):
    answers = evaluate(dd.from_pandas(frame, npartitions=3, sort=False))
    assert isinstance(answers, dd.DataFrame)
    _same(answers.compute(), evaluate(frame))


def test_meta_declares_the_answer_columns(frame):
    answers = evaluate_dask(dd.from_pandas(frame, npartitions=2))
    expected = evaluate(frame.head(50))
    assert list(answers.columns) == list(expected.columns)
    for col in expected.columns:
        assert isinstance(answers.dtypes[col], pd.CategoricalDtype), col
    assert list(answers._meta["ipv4"].cat.categories) == list(expected["ipv4"].cat.categories)
    assert not dd.utils.has_known_categories(answers["error"])


def test_the_rule_book_is_one_task_shared_by_every_partition(frame):
    answers = evaluate_dask(dd.from_pandas(frame, npartitions=4))  # no client: a delayed object in the graph
    graph = dict(answers.__dask_graph__())
    books = [k for k in graph if "sonet-rulebook" in str(k)]
    assert len(books) == 1
    partition_tasks = [k for k in graph if isinstance(k, tuple) and "_answer_partition" in k[0]]
    assert len(partition_tasks) == 4


def test_with_a_client_the_rule_book_is_scattered_once(client, frame):
    answers = evaluate_dask(dd.from_pandas(frame, npartitions=4, sort=False))
    books = [k for k in client.who_has() if str(k).startswith("RuleBook")]
    assert len(books) == 1  # one scattered copy (broadcast to every worker), not one per partition
    assert len(client.who_has()[books[0]]) == len(client.scheduler_info()["workers"])
    _same(answers.compute(), evaluate(frame))


def test_rows_keep_their_order_within_and_across_partitions(client, frame):
    shuffled = frame.sample(frac=1.0, random_state=3)
    got = evaluate_dask(dd.from_pandas(shuffled, npartitions=4, sort=False)).compute()
    assert got.index.equals(shuffled.index)
    _same(got, evaluate(shuffled))


def test_partitions_with_and_without_invalid_rows_concatenate(frame):
    # The first partitions hold only valid rows (their error column has no category), the last only invalid ones.
    answers = evaluate(frame)
    ordered = frame.loc[answers.sort_values("status", key=lambda s: s.isin(["invalid", "partial"])).index]
    got = evaluate_dask(dd.from_pandas(ordered, npartitions=6, sort=False)).compute()
    _same(got, evaluate(ordered))
    assert got["error"].isna().sum() == (~got["status"].isin(["invalid", "partial"])).sum()


def test_evaluate_dask_refuses_a_pandas_frame(frame):
    with pytest.raises(TypeError, match="Dask DataFrame"):
        evaluate_dask(frame)
