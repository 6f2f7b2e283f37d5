"""merge_cells covers exactly the given cells (no more, no fewer), with disjoint boxes, in few boxes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sonet_policy.book.scope import describe, expand, merge_cells, scope_mask

AXES = {
    "area": ["east", "west"],
    "plan": ["10g", "sml", "other"],
    "device": [f"D{i}" for i in range(7)],
    "setup": ["wlan_1g", "wlan_router_10g", "v6plus_router", "rental_only"],
}


def _axes_for(shape: tuple[int, ...]) -> tuple[dict[str, list[str]], list[str]]:
    names = [f"x{k}" for k in range(len(shape))]
    return {n: [f"{n}v{i}" for i in range(size)] for n, size in zip(names, shape, strict=True)}, names


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=4).flatmap(
        lambda shape: arrays(bool, tuple(shape), elements=st.booleans())
    )
)
def test_boxes_cover_exactly_the_cells_once(mask: np.ndarray) -> None:
    axes, names = _axes_for(mask.shape)
    scopes = merge_cells(mask, axes, names)
    count = expand(scopes, axes, names)
    assert (count == mask.astype(int)).all(), "every given cell once, no other cell"
    assert len(scopes) <= max(1, int(mask.sum())), "never more boxes than cells"
    for scope in scopes:
        for name, value in scope.items():
            values = [value] if isinstance(value, str) else value
            assert 0 < len(values) < len(axes[name]), "a full axis is left out, a single value is a scalar"
            assert isinstance(value, str) == (len(values) == 1)


def test_the_three_forms_of_cells_agree() -> None:
    rng = np.random.default_rng(7)
    mask = rng.random((2, 3, 7, 4)) < 0.3
    names = list(AXES)
    flat = np.flatnonzero(mask)
    tuples = [tuple(AXES[n][p] for n, p in zip(names, pos, strict=True)) for pos in zip(*np.nonzero(mask), strict=True)]
    a = merge_cells(mask, AXES, names)
    assert merge_cells(flat, AXES, names) == a
    assert merge_cells(tuples, AXES, names) == a
    assert (expand(a, AXES, names) == mask).all()


def test_a_product_is_one_box_and_the_full_grid_is_an_empty_scope() -> None:
    names = list(AXES)
    mask = np.zeros((2, 3, 7, 4), dtype=bool)
    mask[1, :, 2:4, :] = True
    assert merge_cells(mask, AXES, names) == [{"area": "west", "device": ["D2", "D3"]}]
    assert merge_cells(np.ones((2, 3, 7, 4), dtype=bool), AXES, names) == [{}]
    assert merge_cells(np.zeros((2, 3, 7, 4), dtype=bool), AXES, names) == []


def test_an_l_shape_takes_two_boxes() -> None:
    names = ["area", "device", "setup"]
    mask = np.zeros((2, 7, 4), dtype=bool)
    mask[1, :5, :] = True
    mask[1, :2, 0] = False  # take a corner out: two boxes, not ten
    scopes = merge_cells(mask, AXES, names)
    assert len(scopes) == 2
    assert (expand(scopes, AXES, names) == mask).all()


def test_boxes_come_in_the_order_of_their_first_cell() -> None:
    names = ["area", "setup"]
    cells = [("west", "rental_only"), ("east", "v6plus_router"), ("west", "wlan_1g")]
    assert merge_cells(cells, AXES, names) == [
        {"area": "east", "setup": "v6plus_router"},
        {"area": "west", "setup": ["wlan_1g", "rental_only"]},
    ]


def test_bad_cells_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="not on its axis"):
        merge_cells([("north", "wlan_1g")], AXES, ["area", "setup"])
    with pytest.raises(ValueError, match="expected 2"):
        merge_cells([("east",)], AXES, ["area", "setup"])
    with pytest.raises(ValueError, match="shape"):
        merge_cells(np.ones((3, 3), dtype=bool), AXES, ["area", "setup"])
    with pytest.raises(ValueError, match="out of range"):
        merge_cells(np.array([8]), AXES, ["area", "setup"])
    with pytest.raises(ValueError, match="not dimensions"):
        scope_mask({"plan": "10g"}, AXES, ["area"])


def test_describe_reads_like_a_condition() -> None:
    assert describe({"area": "west", "device": ["D1", "D2"]}) == "area=west, device=D1|D2"
    assert describe({}) == "any combination"
