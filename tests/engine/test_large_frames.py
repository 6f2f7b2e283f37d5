"""Large frames (240,000 rows: past the size from which evaluate goes the quicker way) answer every row as
answer() answers it alone: Arrow text with late values, nulls and odd chunks, odd frame shapes, mixed column
types, a rare error combination; in four threads at once, in a forked child, at interpreter exit; and evaluate
starts no thread at import and leaves none running."""

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

from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.engine.large import LARGE

BOOK = default_rulebook()
CASES = pd.read_csv("tests/cases/scenarios.csv", dtype=str, keep_default_na=False)[list(BOOK.inputs)]
N = 240_000
assert N > 2 * LARGE


def _big(seed: int, n: int = N) -> pd.DataFrame:
    """Object columns: rows drawn from 3,000 of the cases' values, a few bad or blank ones among them."""
    rng = np.random.default_rng(seed)
    cols = {}
    for name in BOOK.inputs:
        known = np.array([*CASES[name].unique()[:6], "??", "", " "], dtype=object)
        cols[name] = known[rng.integers(0, len(known), 3000)]
    base = pd.DataFrame(cols)
    return base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return _big(0)


@pytest.fixture(scope="module")
def big_answers(big: pd.DataFrame, row_by_row) -> pd.DataFrame:
    return row_by_row(big)


@pytest.mark.slow
def test_large_arrow_frames_of_odd_shapes_answer_as_row_by_row(big, big_answers, same_answers) -> None:
    """Sliced, reversed, re-indexed and concatenated frames, 32- and 64-bit Arrow strings: the answers of the
    same rows."""
    text = big.astype("str")
    frames = {
        "as is": (text, big_answers),
        "sliced": (text.iloc[1000:], big_answers.iloc[1000:]),
        "reversed": (text.iloc[::-1], big_answers.iloc[::-1]),
        "concatenated": (
            pd.concat([text.iloc[k : k + 7_000] for k in range(0, N, 7_000)]),
            pd.concat([big_answers.iloc[k : k + 7_000] for k in range(0, N, 7_000)]),
        ),
        "arrow string": (big.astype(pd.ArrowDtype(pa.string())), big_answers),
        "arrow large_string": (big.astype(pd.ArrowDtype(pa.large_string())), big_answers),
        "category": (big.astype("category"), big_answers),
    }
    index = pd.Index([f"c{k}" for k in range(N)], name="customer")
    frames["re-indexed"] = (text.set_axis(index), big_answers.set_axis(index))
    for label, (frame, want) in frames.items():
        same_answers(evaluate(frame), want, obj=label)


@pytest.mark.slow
def test_late_values_nulls_and_long_text_answer_as_row_by_row(big, as_row_by_row) -> None:
    """Values first seen only late (anywhere from row 9,000 to the last), long and full-width text, nulls."""
    for row in (9_000, 70_000, 130_000, N - 1):
        late = big.copy()
        late.loc[row, BOOK.input_order[0]] = "西日本"
        late.loc[row + 1 - 2 * (row == N - 1), BOOK.input_order[2]] = "ＰＲ－６００ＫＩ" + "x" * 120
        late.loc[row - 5, BOOK.input_order[1]] = None
        as_row_by_row(late.astype("str"), obj=f"late at {row}")


def test_a_rare_error_combination_in_a_large_frame(big) -> None:
    """Two bad values seen apart on two rows and together on one row far down: its combined message is a
    category (and the only combined one); one bad row only: a single message."""
    frame = big.copy()
    frame[BOOK.input_order[0]] = CASES[BOOK.input_order[0]].iloc[0]
    frame[BOOK.input_order[1]] = CASES[BOOK.input_order[1]].iloc[0]
    frame.loc[5, BOOK.input_order[0]] = "bad-1"
    frame.loc[6, BOOK.input_order[1]] = "bad-2"
    frame.loc[150_000, BOOK.input_order[:2]] = ["bad-1", "bad-2"]
    out = evaluate(frame.astype("str"))
    both = [m for m in out["error"].cat.categories if "bad-1" in m and "bad-2" in m]
    assert len(both) == 1 and out["error"].iloc[150_000] == both[0]
    assert out["error"].iloc[5].startswith(f"{BOOK.input_order[0]}: 'bad-1'") and "bad-2" not in out["error"].iloc[5]
    one = pd.DataFrame({name: [CASES[name].iloc[0]] * N for name in BOOK.inputs}, dtype="str")
    one.iloc[3, 0] = "bad"
    out = evaluate(one)
    assert out["error"].cat.categories.tolist() == [out["error"].iloc[3]] and out["error"].isna().sum() == N - 1


@pytest.mark.slow
def test_large_frames_of_mixed_types_aliases_and_duplicated_columns(
    big, big_answers, as_row_by_row, same_answers
) -> None:
    """One column object or categorical among Arrow ones, header aliases and Japanese labels, a duplicated
    column (the first is read), more than 1,024 distinct values, a column all null, absent columns."""
    text = big.astype("str")
    frames = {
        "one object": text.astype({BOOK.input_order[1]: object}),
        "one category": text.astype({BOOK.input_order[1]: "category"}),
        "labels": text.rename(columns={name: BOOK.inputs[name].label_ja for name in BOOK.inputs}),
        "duplicated": pd.concat([text, text[[BOOK.input_order[0]]].replace({"east": "zzz"})], axis=1),
    }
    for label, frame in frames.items():
        same_answers(evaluate(frame), big_answers, obj=label)
    many = big.copy()  # (unknown devices under NEAREST_LIMIT: each gets its nearest models, as alone)
    wide = {m: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in m) for m in BOOK.models}
    spellings = [s for m in BOOK.models for s in (m, m.lower(), m.replace("-", ""), wide[m])]
    values = [*spellings, *(f"dev{k}" for k in range(1101 - len(spellings)))]
    many.loc[: len(values) - 1, BOOK.input_order[2]] = values
    as_row_by_row(many.astype("str"), obj="1,101 distinct values")
    as_row_by_row(text.assign(**{BOOK.input_order[1]: pd.Series([None] * N, dtype="str")}), obj="all null")
    as_row_by_row(text.drop(columns=[BOOK.input_order[0], BOOK.input_order[-1]]), obj="absent")


@pytest.mark.slow
def test_arrow_columns_of_empty_and_tiny_chunks(big, big_answers, same_answers, as_row_by_row) -> None:
    """Empty Arrow chunks around the data, 24,000 chunks of 10 rows, a column null over its first rows."""

    def chunked(frame: pd.DataFrame, cut) -> pd.DataFrame:
        cols = {}
        for name in frame:
            whole = pa.array(frame[name].tolist(), pa.large_string())
            cols[name] = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(cut(whole), type=whole.type)))
        return pd.DataFrame(cols)

    empty = pa.array([], pa.large_string())
    same_answers(evaluate(chunked(big, lambda a: [empty, a.slice(0, 5), empty, a.slice(5), empty])), big_answers)
    same_answers(evaluate(chunked(big, lambda a: [a.slice(k, 10) for k in range(0, len(a), 10)])), big_answers)
    null_first = big.copy()
    null_first.loc[:9_000, BOOK.input_order[1]] = None
    as_row_by_row(null_first.astype("str"))


@pytest.mark.slow
def test_four_threads_at_once_answer_as_one(big) -> None:
    """evaluate from 4 Python threads at once on different large frames: each answers as it does alone."""
    late = big.copy()
    late.iloc[100_000, 0] = "西日本"
    frames = [big.astype("str"), late.astype("str"), big, _big(1).astype(pd.ArrowDtype(pa.large_string()))]
    alone = [evaluate(f) for f in frames]
    with ThreadPoolExecutor(4) as threads:
        for _ in range(2):
            for got, want in zip(threads.map(evaluate, frames), alone, strict=True):
                assert got.equals(want)  # (the same index, columns, dtypes and codes)


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


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_child_forked_while_another_thread_evaluates(big) -> None:
    """A fork after the parent evaluated, and a fork while another thread of the parent is in the middle of
    evaluating large frames (multiprocessing's fork start method meets this): the child answers, no hang."""
    text = big.astype("str")
    want = evaluate(text)
    assert _in_child(text, want) == 0
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            evaluate(text)

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        codes = []
        for _ in range(3):
            time.sleep(0.05)
            codes.append(_in_child(text, want, timeout=30))
    finally:
        stop.set()
        thread.join()
    assert codes == [0, 0, 0], codes


def _run(script: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=120, cwd=os.getcwd()
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


ROW = dict(zip(BOOK.input_order, ["west", "other", "RV-230SE", "v6plus_router", "false", "31"], strict=True))


@pytest.mark.slow
def test_a_large_frame_evaluated_at_interpreter_exit() -> None:
    """At interpreter exit (an ``atexit`` handler: a notebook kernel's or a logger's flush), large frames of
    object and Arrow text columns answer as a small one does."""
    lines = _run(
        f"""
        import atexit
        import pandas as pd
        from sonet_policy.engine.evaluate import evaluate

        small = pd.DataFrame([{ROW!r}] * 10, dtype=object)
        large = pd.DataFrame([{ROW!r}] * {N}, dtype=object)

        def at_exit():
            for label, frame in (("small", small), ("large object", large), ("large str", large.astype("str"))):
                try:
                    print(label, len(evaluate(frame)), evaluate(frame)["status"].iloc[-1])
                except Exception as e:
                    print(label, "raised", type(e).__name__, e)

        atexit.register(at_exit)
        evaluate(small)
        """
    )
    assert lines == ["small 10 ok", f"large object {N} ok", f"large str {N} ok"], lines


@pytest.mark.slow
def test_no_thread_at_import_and_none_left_running() -> None:
    lines = _run(
        f"""
        import threading
        import pandas as pd
        import sonet_policy
        from sonet_policy.engine.evaluate import evaluate
        import sonet_policy.engine.large, sonet_policy.engine.frame, sonet_policy.engine.answer
        print("after import", threading.active_count())
        frame = pd.DataFrame([{ROW!r}] * {N}, dtype=object).astype("str")
        print("after evaluate", threading.active_count(), len(evaluate(frame)))
        """
    )
    assert lines == ["after import 1", f"after evaluate 1 {N}"], lines
