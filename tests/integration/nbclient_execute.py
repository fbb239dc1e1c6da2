#!/usr/bin/python3
"""Executes one lesson notebook with nbclient (the engine of `jupyter nbconvert --execute`) on the
mamba-ts kernelspec of this repository, and writes a JSON report of what came back.

Usage: /usr/bin/python3 tests/integration/nbclient_execute.py NOTEBOOK.ipynb REPORT.json [--timeout SECONDS]

nbclient runs with its defaults for errors (allow_errors=False): the first cell whose reply is an
error stops the run, as it would stop `jupyter nbconvert --execute`. The notebook file is read,
never written. The report:
  {"notebook", "valid" (nbformat validation error or null), "error" (nbclient's exception text or
   null), "seconds", "cells": [{"index", "id", "exercise", "outputs": [{"type", "name"?, "text"?,
   "ename"?, "evalue"?, "mimes"?, "check"?}]}]}; "check" is the exercise check outcome a display
  output carries under application/vnd.mamba-ts.check+json (lib's check()).
"""

import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    [REPO] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
)

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402


CHECK_MIME = "application/vnd.mamba-ts.check+json"


def summarize(output):
    kind = output.get("output_type")
    if kind == "stream":
        return {"type": kind, "name": output.get("name"), "text": output.get("text", "")}
    if kind == "error":
        return {"type": kind, "ename": output.get("ename"), "evalue": output.get("evalue")}
    data = output.get("data", {})
    text = data.get("text/plain", "")
    if isinstance(text, list):
        text = "".join(text)
    summary = {"type": kind, "mimes": sorted(data), "text": text}
    if CHECK_MIME in data:
        summary["check"] = data[CHECK_MIME]
    return summary


def main():
    path, report_path = os.path.abspath(sys.argv[1]), sys.argv[2]
    timeout = 300
    if "--timeout" in sys.argv:
        timeout = int(sys.argv[sys.argv.index("--timeout") + 1])
    nb = nbformat.read(path, as_version=4)
    try:
        nbformat.validate(nb)
        valid = None
    except nbformat.ValidationError as err:
        valid = str(err).splitlines()[0]

    client = NotebookClient(
        nb,
        kernel_name="mamba-ts",
        timeout=timeout,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": os.path.dirname(path)}},
    )
    started = time.monotonic()
    error = None
    try:
        client.execute()
    except Exception as err:  # CellExecutionError, timeouts, a dead kernel: all reported
        error = f"{type(err).__name__}: {err}"
    seconds = time.monotonic() - started

    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cells.append(
            {
                "index": index,
                "id": cell.get("id"),
                "exercise": cell.metadata.get("mamba_ts", {}).get("exercise"),
                "source": cell.source,
                "outputs": [summarize(o) for o in cell.get("outputs", [])],
            }
        )
    with open(report_path, "w") as f:
        json.dump(
            {"notebook": path, "valid": valid, "error": error, "seconds": seconds, "cells": cells},
            f,
            indent=1,
        )


if __name__ == "__main__":
    main()
