"""Attacks on evaluate's fast paths (a frame over one key space answered a chunk at a time in the kept pool's
threads; a large frame of Arrow text looked up in its leading values a block at a time): at real sizes
(200,000+ rows, nothing patched) the answers are the row-by-row ones, in any thread, after a fork, after an
error inside, and at interpreter exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import sonet_policy.engine.frame as batch
from sonet_policy.book.rules import default_rulebook
from sonet_policy.engine.evaluate import evaluate

BOOK = default_rulebook()
LIVE = batch.encode_keyed.__globals__  # the scenario module evaluate reads (see test_keyed_evaluate.py)
CASES = pd.read_csv("tests/cases/scenarios.csv", dtype=str, keep_default_na=False)[list(BOOK.inputs)]
N = 240_000  # past _PARALLEL_ROWS: the pool's threads and the leading lookups run as in production


def _by_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """evaluate with the row-by-row encoding (no key space, no leading lookups)."""
    saved = batch.encode_keyed, batch.leading
    batch.encode_keyed = lambda frame, compiled, **_: LIVE["encode"](frame, compiled)
    batch.leading = lambda *args: None
    try:
        return evaluate(frame)
    finally:
        batch.encode_keyed, batch.leading = saved


def _same(got: pd.DataFrame, want: pd.DataFrame, obj: str = "") -> None:
    """``assert_frame_equal`` for large categorical frames without boxing every cell: the same columns, index,
    dtypes (a categorical's categories and their order) and codes."""
    assert got.columns.tolist() == want.columns.tolist(), obj
    pd.testing.assert_index_equal(got.index, want.index, obj=obj)
    for col in want.columns:
        assert got[col].dtype == want[col].dtype, (obj, col, got[col].dtype, want[col].dtype)
        assert isinstance(want[col].dtype, pd.CategoricalDtype), (obj, col)
        assert got[col].dtype.categories.dtype == want[col].dtype.categories.dtype, (obj, col)
        assert got[col].cat.categories.tolist() == want[col].cat.categories.tolist(), (obj, col)  # (and order)
        np.testing.assert_array_equal(
            got[col].cat.codes.to_numpy(), want[col].cat.codes.to_numpy(), err_msg=f"{obj} {col}"
        )


def _big(seed: int, n: int = N, extra: tuple = ()) -> pd.DataFrame:
    """Object columns of the cases' values and a few bad or blank ones, every value among the leading rows."""
    rng = np.random.default_rng(seed)
    cols = {}
    for name in BOOK.inputs:
        known = np.array([*CASES[name].unique()[:6], "??", "", " ", *extra], dtype=object)
        values = known[rng.integers(0, len(known), n)]
        values[: len(known)] = known
        cols[name] = values
    return pd.DataFrame(cols)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return _big(0)


def _leads(frame: pd.DataFrame) -> bool:
    return batch.leading(frame, BOOK.compiled()) is not None


def test_large_arrow_frames_with_late_values_nulls_and_odd_shapes_answer_as_row_by_row(big: pd.DataFrame) -> None:
    """Nulls and values first seen only past the leading rows (in block 0, 1, 2 or 3), long and full-width text,
    sliced / reversed / re-indexed / concatenated frames, 32- and 64-bit Arrow strings: row by row's answers."""
    text = big.astype("str")
    frames = {"as is": text}
    for block, row in enumerate((9_000, 70_000, 130_000, N - 1)):
        late = big.copy()
        late.loc[row, BOOK.input_order[0]] = "西日本"
        late.loc[row + 1 - 2 * (row == N - 1), BOOK.input_order[2]] = "ＰＲ－６００ＫＩ" + "x" * 120
        late.loc[row - 5, BOOK.input_order[1]] = None
        frames[f"late in block {block}"] = late.astype("str")
    frames["sliced"] = text.iloc[1000:]
    frames["reversed"] = text.iloc[::-1]
    frames["re-indexed"] = text.set_axis(pd.Index([f"c{k}" for k in range(N)], name="customer"))
    frames["concatenated"] = pd.concat([text.iloc[k : k + 7_000] for k in range(0, N, 7_000)])
    frames["arrow string"] = big.astype(pd.ArrowDtype(pa.string()))
    frames["arrow large_string"] = big.astype(pd.ArrowDtype(pa.large_string()))
    for label, frame in frames.items():
        assert _leads(frame), label
        out = evaluate(frame)
        assert len(out) == len(frame)
        _same(out, _by_rows(frame), obj=label)


def test_large_arrow_frame_with_a_rare_error_combination_in_one_block(big: pd.DataFrame) -> None:
    """Two bad values seen apart among the leading rows and together on one row of block 2 only: its combined
    message is a category (and the only combined one); one bad row only: a single message in the space."""
    frame = big.copy()
    frame[BOOK.input_order[0]] = CASES[BOOK.input_order[0]].iloc[0]
    frame[BOOK.input_order[1]] = CASES[BOOK.input_order[1]].iloc[0]
    frame.loc[5, BOOK.input_order[0]] = "bad-1"
    frame.loc[6, BOOK.input_order[1]] = "bad-2"
    frame.loc[150_000, BOOK.input_order[:2]] = ["bad-1", "bad-2"]
    text = frame.astype("str")
    assert _leads(text)
    out = evaluate(text)
    _same(out, _by_rows(text))
    both = [m for m in out["error"].cat.categories if "bad-1" in m and "bad-2" in m]
    assert len(both) == 1 and out["error"].iloc[150_000] == both[0]
    one = pd.DataFrame({name: [CASES[name].iloc[0]] * N for name in BOOK.inputs}, dtype="str")
    one.iloc[3, 0] = "bad"
    _same(evaluate(one), _by_rows(one))
    assert evaluate(one)["error"].cat.categories.tolist() == [evaluate(one)["error"].iloc[3]]


def test_large_frames_of_mixed_types_aliases_and_duplicated_columns(big: pd.DataFrame) -> None:
    """One column object or categorical among Arrow ones (no leading lookups), header aliases and Japanese
    labels, a duplicated column (the first is read), more than 1,024 leading values, a column all null."""
    text = big.astype("str")
    frames = {
        "one object": text.astype({BOOK.input_order[1]: object}),
        "one category": text.astype({BOOK.input_order[1]: "category"}),
        "labels": text.rename(columns={name: BOOK.inputs[name].label_ja for name in BOOK.inputs}),
        "duplicated": pd.concat([text, text[[BOOK.input_order[0]]].replace({"east": "zzz"})], axis=1),
        "all null": text.assign(**{BOOK.input_order[1]: pd.Series([None] * N, dtype="str")}),
        "absent": text.drop(columns=[BOOK.input_order[0], BOOK.input_order[-1]]),
    }
    many = big.copy()
    many.loc[:1100, BOOK.input_order[2]] = [f"dev{k}" for k in range(1101)]
    frames["1,101 leading values"] = many.astype("str")
    for label, frame in frames.items():
        _same(evaluate(frame), _by_rows(frame), obj=label)
    assert _leads(frames["labels"]) and _leads(frames["all null"]) and not _leads(frames["one object"])


def test_four_threads_at_once_answer_as_one(big: pd.DataFrame) -> None:
    """evaluate from 4 Python threads at once on different large frames (leading lookups, a fallback to the
    whole columns, object columns over one space): each answers as it does alone, call after call."""
    late = big.copy()
    late.iloc[100_000, 0] = "西日本"
    frames = [big.astype("str"), late.astype("str"), big, _big(1).astype(pd.ArrowDtype(pa.large_string()))]
    alone = [evaluate(f) for f in frames]
    for f, a in zip(frames, alone, strict=True):
        _same(a, _by_rows(f))
    with ThreadPoolExecutor(4) as threads:
        for _ in range(2):
            for got, want in zip(threads.map(evaluate, frames), alone, strict=True):
                _same(got, want)


def test_an_error_inside_a_pool_task_propagates_and_the_pool_serves_again(big, monkeypatch) -> None:
    text = big.astype("str")
    want = evaluate(text)
    found = LIVE["Leading"].found

    def failing(self, name, lo, hi):
        if lo > 0:
            raise ValueError("a lookup failed")
        return found(self, name, lo, hi)

    monkeypatch.setattr(LIVE["Leading"], "found", failing)
    with pytest.raises(ValueError, match="a lookup failed"):
        evaluate(text)
    monkeypatch.undo()
    rows = batch._Answers.rows

    def failing_rows(self, codes, lo, hi):
        if threading.current_thread().name.startswith("sonet"):
            raise RuntimeError("a chunk failed")
        return rows(self, codes, lo, hi)

    monkeypatch.setattr(batch._Answers, "rows", failing_rows)
    with pytest.raises(RuntimeError, match="a chunk failed"):
        evaluate(big)
    monkeypatch.undo()
    _same(evaluate(text), want)
    assert len([t for t in threading.enumerate() if t.name.startswith("sonet")]) <= 2


def _in_child(frame: pd.DataFrame, want: pd.DataFrame, timeout: float = 60) -> int | None:
    """Fork; the child evaluates ``frame`` (exit 0: the answers are ``want``). Returns the child's exit code, or
    None when it did not end within ``timeout`` seconds (it is killed)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            code = 0 if evaluate(frame).equals(want) else 3
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_evaluates_after_the_parent_did(big: pd.DataFrame) -> None:
    text = big.astype("str")
    want = evaluate(text)
    assert _in_child(text, want) == 0
    assert _in_child(big, want) == 0  # object columns over one space: rows answered in the pool's two threads


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
@pytest.mark.parametrize("held", ["_POOL_LOCK", "_KEY_CACHE_LOCK"])
def test_a_child_forked_while_another_thread_gets_the_pool_does_not_hang(big: pd.DataFrame, held: str) -> None:
    """A fork while another thread of the parent holds the pool's lock (inside ``_pool()``, as a thread
    evaluating a large frame does for a moment) or the per-key tables' lock: the child's evaluate does not wait
    on it for ever (before the fix it hung and was killed after 8 s). multiprocessing's fork start method meets
    this when a thread evaluates while the main thread starts a process."""
    text = big.astype("str")
    want = evaluate(text)
    lock = LIVE[held]  # each is held a moment by an evaluate
    held, release = threading.Event(), threading.Event()

    def inside_pool() -> None:  # a thread of the parent in the middle of _pool()
        with lock:
            held.set()
            release.wait()

    thread = threading.Thread(target=inside_pool)
    thread.start()
    held.wait()
    try:
        code = _in_child(text, want, timeout=8)
    finally:
        release.set()
        thread.join()
    assert code == 0, "the forked child hung on the pool's lock" if code is None else code


def test_a_large_frame_evaluated_at_interpreter_exit(tmp_path) -> None:
    """At interpreter exit (an ``atexit`` handler: a notebook kernel's or a logger's flush) the kept pool takes no
    task (``RuntimeError: cannot schedule new futures after interpreter shutdown``): a frame of 200,000+ rows is
    then answered in the calling thread, as a small one is (it raised before)."""
    script = tmp_path / "at_exit.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import atexit
            import pandas as pd
            from sonet_policy.engine.evaluate import evaluate
            from sonet_policy.book.rules import default_rulebook

            book = default_rulebook()
            row = {{name: value for name, value in zip(book.input_order, ["west", "other", "RV-230SE",
                   "v6plus_router", "false", "31"])}}
            small = pd.DataFrame([row] * 10, dtype=object)
            large = pd.DataFrame([row] * {N}, dtype=object)

            def at_exit():
                for label, frame in (("small", small), ("large object", large), ("large str", large.astype("str"))):
                    try:
                        print(label, len(evaluate(frame)))
                    except Exception as e:
                        print(label, "raised", type(e).__name__, e)

            atexit.register(at_exit)
            evaluate(small)
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == ["small 10", f"large object {N}", f"large str {N}"], lines


def test_arrow_columns_of_empty_and_tiny_chunks_and_leading_nulls_answer_as_row_by_row(big: pd.DataFrame) -> None:
    """Empty Arrow chunks around the data, 24,000 chunks of 10 rows (with a value past the leading rows: the
    fallback reads the blocks' lookups across every chunk), a column null over its leading rows and then
    valued, and exactly 200,000 rows (the first size read in blocks)."""

    def chunked(frame: pd.DataFrame, cut) -> pd.DataFrame:
        cols = {}
        for name in frame:
            whole = pa.array(frame[name].tolist(), pa.large_string())
            cols[name] = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(cut(whole), type=whole.type)))
        return pd.DataFrame(cols)

    empty = pa.array([], pa.large_string())
    late = big.copy()
    late.loc[150_000, BOOK.input_order[0]] = "西日本"
    null_first = big.copy()
    null_first.loc[:9_000, BOOK.input_order[1]] = None
    frames = {
        "empty chunks": chunked(big, lambda a: [empty, a.slice(0, 5), empty, a.slice(5), empty]),
        "tiny chunks": chunked(late, lambda a: [a.slice(k, 10) for k in range(0, len(a), 10)]),
        "null leading rows": null_first.astype("str"),
        "200,000 rows": big.iloc[:200_000].astype("str"),
    }
    for label, frame in frames.items():
        assert _leads(frame), label
        _same(evaluate(frame), _by_rows(frame), obj=label)
