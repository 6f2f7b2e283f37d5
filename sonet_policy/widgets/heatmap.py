"""The clickable coverage heat map: the share of each pair's scenarios a decision answers, as a grid of buttons.

The same matrix as the PNG of :func:`~sonet_policy.widgets.audit.coverage_share_heatmap` (rows: decision x the
first axis, columns: the second axis; each cell prints :func:`~sonet_policy.analysis.coverage.share_label` on the PNG's
colour scale, grey where every combination is ruled out), drawn by a tiny anywidget as an HTML grid (its ES
module and CSS are inline, so Voilà serves it offline). Each cell is a button (focusable; Enter or Space clicks
it) whose tooltip gives the counts; a click sets the synced ``selected`` trait to ``[decision, row value,
column value]``, and the cells of the pair in ``selected`` are outlined (set ``selected`` from Python with an
empty decision to outline a pair in every decision). Its plain text is a one-line summary: the saved notebook
and nbval never depend on widget state.

>>> from sonet_policy.analysis.coverage import coverage_shares
>>> m = ShareHeatMap(coverage_shares(rows="area", columns="device"))
>>> m
ShareHeatMap: share covered, 5 decisions x 2 area x 40 device
>>> m.cells[0]["label"], m.cells[0]["share"]
('100%', 1.0)
"""

from __future__ import annotations

import anywidget
import numpy as np
import pandas as pd
import traitlets

NO_SCENARIO_COLOUR = "#bdbdbd"  # the PNG's colour for a pair with no scenario

_ESM = r"""
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "sp-heatmap";
  el.appendChild(root);
  let buttons = [];
  const draw = () => {
    const data = model.get("data") || {};
    const cells = model.get("cells") || [];
    const columns = data.columns || [];
    root.innerHTML = "";
    buttons = [];
    const decisions = data.decisions || [], rowValues = data.row_values || [];
    if (cells.length !== decisions.length * rowValues.length * columns.length) return;  // cells and axes in step
    root.style.gridTemplateColumns = `max-content max-content repeat(${columns.length}, 1.7em)`;
    const head = (text, cls) => {
      const d = document.createElement("div");
      d.className = cls;
      d.textContent = text;
      root.appendChild(d);
      return d;
    };
    head(data.decision_name || "", "sp-hm-corner");
    head(data.rows_name || "", "sp-hm-corner");
    for (const c of columns) head(c, "sp-hm-col").title = `${data.columns_name}=${c}`;
    let k = 0;
    for (const d of decisions) {
      rowValues.forEach((r, i) => {
        const dh = head(i === 0 ? d : "", "sp-hm-decision");
        if (i === 0) dh.classList.add("sp-hm-first");
        head(r, "sp-hm-row").classList.toggle("sp-hm-first", i === 0);
        for (let j = 0; j < columns.length; j++, k++) {
          const cell = cells[k];
          const b = document.createElement("button");
          b.type = "button";
          b.className = "sp-hm-cell" + (i === 0 ? " sp-hm-first" : "");
          b.textContent = cell.label;
          b.title = cell.tooltip;
          b.setAttribute("aria-label", cell.tooltip);
          b.style.background = cell.colour;
          b.style.color = cell.text_colour;
          b.dataset.decision = cell.decision;
          b.dataset.row = cell.row;
          b.dataset.column = cell.column;
          b.addEventListener("click", () => {
            model.set("selected", [cell.decision, cell.row, cell.column]);
            model.save_changes();
          });
          root.appendChild(b);
          buttons.push(b);
        }
      });
    }
    outline();
  };
  const outline = () => {
    const s = model.get("selected") || [];
    for (const b of buttons) {
      const on = s.length === 3 && b.dataset.row === s[1] && b.dataset.column === s[2];
      b.classList.toggle("sp-hm-on", on);
      b.setAttribute("aria-pressed", on && (s[0] === "" || b.dataset.decision === s[0]) ? "true" : "false");
    }
    for (const h of root.querySelectorAll(".sp-hm-col, .sp-hm-row")) {
      const name = h.classList.contains("sp-hm-col") ? 2 : 1;
      h.classList.toggle("sp-hm-on-head", s.length === 3 && h.textContent === s[name]);
    }
  };
  model.on("change:cells", draw);
  model.on("change:data", draw);
  model.on("change:selected", outline);
  draw();
}
export default { render };
"""

_CSS = """
.sp-heatmap { display: grid; gap: 1px; align-items: stretch; overflow-x: auto; max-width: 100%;
  font-size: 10px; padding: 2px 2px 6px 2px; }
.sp-heatmap .sp-hm-corner { font-weight: bold; align-self: end; padding: 0 4px; }
.sp-heatmap .sp-hm-col { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left;
  padding: 2px 0; white-space: nowrap; justify-self: center; }
.sp-heatmap .sp-hm-decision { font-weight: bold; padding: 0 6px 0 0; text-align: right; align-self: center; }
.sp-heatmap .sp-hm-row { padding: 0 4px; align-self: center; }
.sp-heatmap .sp-hm-first { margin-top: 3px; }
.sp-heatmap .sp-hm-on-head { font-weight: bold; text-decoration: underline; }
.sp-heatmap .sp-hm-cell { border: 1px solid transparent; margin: 0; padding: 2px 0; min-height: 3.1em;
  font: inherit; font-size: 9px; line-height: 1; cursor: pointer; writing-mode: vertical-rl;
  transform: rotate(180deg); text-align: center; }
.sp-heatmap .sp-hm-cell:hover { border-color: #555; }
.sp-heatmap .sp-hm-cell:focus-visible { outline: 2px solid #1f77b4; outline-offset: 1px; }
.sp-heatmap .sp-hm-cell.sp-hm-on { outline: 2px solid #000; outline-offset: 0; box-shadow: 0 0 0 2px #fff inset;
  z-index: 1; }
.sp-heatmap .sp-hm-cell[aria-pressed="true"] { outline: 3px solid #000; }
"""


def heatmap_cells(shares: pd.DataFrame) -> list[dict[str, object]]:
    """The cells of the clickable map, decision by decision, row value by row value, column value by column
    value (the PNG's order): ``decision``, ``row``, ``column``, ``share`` (None with no scenario), ``label``
    (:func:`~sonet_policy.analysis.coverage.share_label`), ``colour`` and ``text_colour`` (the PNG's: matplotlib's
    ``YlGn`` from 0 to 1, white text above 0.6, grey with no scenario), and ``tooltip`` (the counts).

    >>> from sonet_policy.analysis.coverage import coverage_shares
    >>> cell = heatmap_cells(coverage_shares(rows="area", columns="device"))[0]
    >>> cell["tooltip"].endswith("covered, 0 gap, 0 conflict"), cell["colour"].startswith("#")
    (True, True)
    """
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    from sonet_policy.analysis.coverage import share_label, share_matrix

    rows, columns = str(shares.columns[0]), str(shares.columns[1])
    cmap = mpl.colormaps["YlGn"]
    counts = shares.set_index(["decision", rows, columns])
    out: list[dict[str, object]] = []
    for decision in dict.fromkeys(shares["decision"]):
        m = share_matrix(shares, decision)
        for (i, j), v in np.ndenumerate(m.to_numpy(dtype=float)):
            r, c = str(m.index[i]), str(m.columns[j])
            rec = counts.loc[(decision, m.index[i], m.columns[j])]
            empty = v != v
            tooltip = f"{decision} · {rows}={r} · {columns}={c}: " + (
                "every combination ruled out"
                if empty
                else f"{share_label(v)} covered: {int(rec['covered'])}/{int(rec['scenarios'])} scenarios "
                f"covered, {int(rec['gap'])} gap, {int(rec['conflict'])} conflict"
            )
            out.append(
                {
                    "decision": str(decision),
                    "row": r,
                    "column": c,
                    "share": None if empty else float(v),
                    "label": share_label(v),
                    "colour": NO_SCENARIO_COLOUR if empty else to_hex(cmap(float(v))),
                    "text_colour": "white" if not empty and v > 0.6 else "black",
                    "tooltip": tooltip,
                }
            )
    return out


class ShareHeatMap(anywidget.AnyWidget):
    """The clickable share heat map of ``shares`` (:func:`~sonet_policy.analysis.coverage.coverage_shares`): ``cells``
    (:func:`heatmap_cells`) and ``data`` (the axes) are drawn; ``selected`` is ``[decision, row value, column
    value]`` of the cell last clicked (or set from Python; ``[]``: none)."""

    _esm = _ESM
    _css = _CSS
    data = traitlets.Dict({}).tag(sync=True)
    cells = traitlets.List([]).tag(sync=True)
    selected = traitlets.List(traitlets.Unicode(), default_value=[]).tag(sync=True)

    def __init__(self, shares: pd.DataFrame | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.add_class("sp-heatmap-widget")
        if shares is not None:
            self.show(shares)

    def show(self, shares: pd.DataFrame | None) -> None:
        """Draw ``shares`` (None: an empty map); the outline is kept."""
        if shares is None:
            with self.hold_sync():
                self.cells, self.data = [], {}
            return
        rows, columns = str(shares.columns[0]), str(shares.columns[1])
        cells = heatmap_cells(shares)
        with self.hold_sync():
            self.cells = cells
            self.data = {
                "decision_name": "decision",
                "rows_name": rows,
                "columns_name": columns,
                "decisions": [str(d) for d in dict.fromkeys(shares["decision"])],
                "row_values": [str(v) for v in dict.fromkeys(shares[rows])],
                "columns": [str(v) for v in dict.fromkeys(shares[columns])],
            }

    def summary(self) -> str:
        d = self.data
        if not d:
            return "ShareHeatMap: empty"
        return (
            f"ShareHeatMap: share covered, {len(d['decisions'])} decisions x {len(d['row_values'])} "
            f"{d['rows_name']} x {len(d['columns'])} {d['columns_name']}"
        )

    def __repr__(self) -> str:
        return self.summary()
