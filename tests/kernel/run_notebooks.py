"""Executes notebooks with nbclient (the Jupyter project's notebook runner, which `jupyter
nbconvert --execute` uses) through an installed HelixFold kernelspec, as a notebook server would:
each notebook's kernel starts in the notebook's own folder.

    run_notebooks.py --kernel NAME --out DIR NOTEBOOK...

Writes each executed notebook (outputs included) to DIR under its own name, prints one line per
notebook with its wall time, and exits 1 when any cell failed: an execution error, an output of
type `error`, or text on the stderr stream other than the kernel's warnings (lines starting with
`warning: `, which notebooks show on purpose, e.g. that a parallel layout is only recorded)."""
import argparse
import os
import sys
import time

import nbclient
import nbformat


def problems_of(notebook):
    """Every error or stderr output, as `cell N: description` lines."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                failures = [line for line in output.get("text", "").splitlines() if line and not line.startswith("warning: ")]
                found.extend(f"cell {index}: stderr: {line}" for line in failures)
    return found


def run(path, kernel, out_dir, timeout):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=timeout,
        allow_errors=True,
        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
    )
    started = time.monotonic()
    client.execute()
    seconds = time.monotonic() - started
    nbformat.write(notebook, os.path.join(out_dir, os.path.basename(path)))
    return seconds, problems_of(notebook)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=int, default=300, help="seconds one cell may take")
    parser.add_argument("notebooks", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    failed = False
    for path in args.notebooks:
        seconds, problems = run(path, args.kernel, args.out, args.timeout)
        status = "ok" if not problems else "FAILED"
        print(f"{os.path.basename(path)}: {status} in {seconds:.1f} s", flush=True)
        for problem in problems:
            print(f"  {problem}", flush=True)
        failed |= bool(problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
