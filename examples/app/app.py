#!/usr/bin/env python3
"""Scores staged CSV data with the linear model in model.json (Python 3, stdlib only).

Run by a Data Factory Custom activity on an Azure Batch node, for example:

    /bin/sh -c 'python3 "$AZ_BATCH_APP_PACKAGE_batchapp/app.py" "@{pipeline().RunId}"'

Reads every *.csv in the input folder (default: the current directory, which is
the Batch task's working directory where the activity's files were downloaded),
writes results.csv (default: the current directory) and outputs.json in the
current directory: Data Factory copies outputs.json into the activity's output
as customOutput. Exits 2 when the input is missing or bad and 3 when the model
is, with the reason on stderr (Data Factory keeps it in stderr.txt).
"""
import argparse
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_FILE = "results.csv"
OUTPUTS_FILE = "outputs.json"


def read_version():
    try:
        with open(os.path.join(HERE, "VERSION"), encoding="utf-8") as f:
            return f.read().strip() or "0+unknown"
    except OSError:
        return "0+unknown"


__version__ = read_version()


class AppError(Exception):
    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


def release_run_id():
    """The release's run id, from the Custom activity's extendedProperties (activity.json, in the working directory)."""
    try:
        with open("activity.json", encoding="utf-8") as f:
            activity = json.load(f)
        value = activity["typeProperties"]["extendedProperties"]["releaseRunId"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if isinstance(value, dict):  # {"type": "SecureString" | "Expression", "value": ...}
        value = value.get("value", "")
    return str(value)


def load_model(path):
    try:
        with open(path, encoding="utf-8") as f:
            model = json.load(f)
    except OSError as e:
        raise AppError("cannot read the model %s: %s" % (path, e.strerror), 3)
    except ValueError as e:
        raise AppError("the model %s is not valid JSON: %s" % (path, e), 3)
    coefficients = model.get("coefficients") if isinstance(model, dict) else None
    if not isinstance(coefficients, dict) or not coefficients:
        raise AppError("the model %s has no 'coefficients' object" % path, 3)
    for name, weight in coefficients.items():
        if not isinstance(weight, (int, float)) or isinstance(weight, bool):
            raise AppError("the model %s: coefficient '%s' is not a number" % (path, name), 3)
    for key in ("intercept", "threshold"):
        if not isinstance(model.get(key, 0), (int, float)):
            raise AppError("the model %s: '%s' is not a number" % (path, key), 3)
    return model


def input_files(folder, skip):
    if not os.path.isdir(folder):
        raise AppError("the input folder %s does not exist" % folder, 2)
    skip = {os.path.realpath(p) for p in skip}
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".csv") and os.path.realpath(os.path.join(folder, n)) not in skip)
    if not names:
        raise AppError("no input: the folder %s holds no .csv file (the staged data should be there)" % folder, 2)
    return names


def score_file(folder, name, model):
    id_column = model.get("idColumn", "id")
    coefficients = model["coefficients"]
    rows = []
    with open(os.path.join(folder, name), encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in [id_column] + list(coefficients) if c not in header]
        if missing:
            raise AppError("%s: missing column(s) %s (the header is: %s)" % (name, ", ".join(missing), ",".join(header) or "empty"), 2)
        for row in reader:
            line = reader.line_num
            score = float(model.get("intercept", 0))
            for column, weight in coefficients.items():
                raw = (row.get(column) or "").strip()
                try:
                    value = float(raw)
                except ValueError:
                    raise AppError("%s line %d: column '%s' is not a number: %r" % (name, line, column, raw), 2)
                if not math.isfinite(value):
                    raise AppError("%s line %d: column '%s' is not a finite number: %r" % (name, line, column, raw), 2)
                score += weight * value
            rows.append((row[id_column], score))
    return rows


def main(argv):
    parser = argparse.ArgumentParser(description="Scores staged CSV data with a linear model.")
    parser.add_argument("run_id", nargs="?", help="the Data Factory pipeline run id")
    parser.add_argument("--run-id", dest="run_id_option", help="the same, as an option")
    parser.add_argument("--input", default=".", help="folder with the input .csv files (default: current directory)")
    parser.add_argument("--output", default=".", help="folder for %s (default: current directory)" % RESULTS_FILE)
    parser.add_argument("--model", default=os.path.join(HERE, "model.json"), help="model file (default: model.json beside app.py)")
    parser.add_argument("--version", action="version", version="batch-app %s" % __version__)
    args = parser.parse_args(argv)
    run_id = args.run_id_option or args.run_id or ""

    release = release_run_id()
    print("batch-app version %s, pipeline run %s" % (__version__, run_id or "(none given)"))
    if release:
        print("released by run %s" % release)
    try:
        model = load_model(args.model)
        results_path = os.path.join(args.output, RESULTS_FILE)
        names = input_files(args.input, {results_path})
        scored = []
        for name in names:
            scored.extend(score_file(args.input, name, model))
        if not scored:
            raise AppError("no input: %s hold(s) a header but no data rows" % ", ".join(names), 2)
    except AppError as e:
        print("batch-app: error: %s" % e, file=sys.stderr)
        return e.exit_code

    threshold = float(model.get("threshold", 0))
    flagged = sum(1 for _, s in scored if s >= threshold)
    os.makedirs(args.output, exist_ok=True)
    with open(results_path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "score", "flagged"])
        for row_id, score in scored:
            writer.writerow([row_id, "%.4f" % score, "true" if score >= threshold else "false"])
    outputs = {
        "application": "batch-app",
        "version": __version__,
        "model": model.get("name", "model"),
        "pipelineRunId": run_id,
        "releaseRunId": release,
        "inputFiles": names,
        "rows": len(scored),
        "flagged": flagged,
        "meanScore": round(sum(s for _, s in scored) / len(scored), 4),
        "resultsFile": RESULTS_FILE,
    }
    with open(OUTPUTS_FILE, "w", encoding="utf-8") as f:
        json.dump(outputs, f, indent=2)
    print("read %d row(s) from %s" % (len(scored), ", ".join(names)))
    print("flagged %d of %d (score >= %g); wrote %s and %s" % (flagged, len(scored), threshold, RESULTS_FILE, OUTPUTS_FILE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
