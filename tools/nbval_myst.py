"""pytest plugin for running myst-nb's executed notebooks under nbval (``-p nbval_myst``).

Two adjustments before nbval compares a cell's new outputs with the stored ones:

* myst-nb moves every ``glue`` output (MIME types ``application/papermill.record/...``)
  out of the executed notebook it keeps, into a side file, while re-running the cell
  under nbval produces them again. They are values handed to the prose, not output a
  reader sees in the cell, so both sides drop them.
* nbval merges a cell's stdout outputs in place, on the stored notebook's own objects;
  a second comparison of the same cell (nbval compares again to report a failure)
  would merge them twice. Here both sides are copied and merged once.
"""

import copy

from nbformat import NotebookNode
from nbval.plugin import IPyNbCell

GLUE_PREFIX = "application/papermill.record/"
_compare = IPyNbCell.compare_outputs


def prepare(outputs):
    kept, streams = [], {}
    for out in copy.deepcopy(list(outputs)):
        if "data" in out:
            data = {
                k: v for k, v in out["data"].items() if not k.startswith(GLUE_PREFIX)
            }
            if not data:
                continue
            out["data"] = NotebookNode(data)
        if out.get("output_type") == "stream":
            if out["name"] in streams:
                streams[out["name"]]["text"] += out["text"]
                continue
            streams[out["name"]] = out
        kept.append(out)
    return kept


def compare_outputs(self, test, ref, skip_compare=None):
    return _compare(self, prepare(test), prepare(ref), skip_compare)


IPyNbCell.compare_outputs = compare_outputs
