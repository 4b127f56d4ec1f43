"""`infocam audit <table.csv>`: does every number in a table still trace back to its sources?

For the localisation tables (1, 3, 4, 5) each row is followed down the chain
    table cell -> evaluation summaries -> per-image records -> checkpoint (-> the pretrained
    checkpoint it started from) -> split -> raw archive
checking at each link that the file's md5 is the one recorded one level up and, for the
DVC-tracked files (checkpoint, prepared dataset, archive), the one DVC records; the row's
numbers are recomputed from the per-image records. For the other tables (MI, PC-softmax,
Table 2) the table is recomputed from its per-job results, whose md5s and those of their
data are checked. Every table's code (the md5 of every code file, committed or not) and
config must be the ones recorded.
"""

import functools
import gzip
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from infocam.provenance import dvc as dvc_tracking
from infocam.config import resolved
from infocam.io import file_md5
from infocam.provenance.records import LOCK_FILE, code_files, config_sha256

TOLERANCE = 0.006  # tables round to 2 decimals


@dataclass
class Report:
    lines: list = field(default_factory=list)
    broken: list = field(default_factory=list)
    dvc_used: bool = True  # False: the run had dvc.track off, so there are no DVC records to check

    def ok(self, where, what):
        self.lines.append(f"  ok      {where}: {what}")

    def fail(self, where, what):
        self.broken.append(f"{where}: {what}")
        self.lines.append(f"  BROKEN  {where}: {what}")

    def check(self, good, where, what_ok, what_broken):
        (self.ok if good else self.fail)(where, what_ok if good else what_broken)
        return good


def provenance_path(table_csv):
    return Path(table_csv).with_suffix(".provenance.json")


def audit(table_csv):
    """Check `table_csv`; return a Report (report.broken is empty when every link holds)."""
    table_csv = Path(table_csv)
    report = Report()
    record_path = provenance_path(table_csv)
    if not table_csv.is_file():
        report.fail(str(table_csv), "no such table")
        return report
    if not record_path.is_file():
        report.fail(str(table_csv), f"no provenance record ({record_path})")
        return report
    record = json.loads(record_path.read_text())
    recorded_config = record["config"].get("config") or {}
    report.dvc_used = bool((recorded_config.get("dvc") or {}).get("track"))
    if not report.dvc_used:
        report.ok("dvc", "DVC was not used by this run (dvc.track: false): the md5 links are checked without it")
    check_code(record["code"], report)
    check_config(record["config"], report)
    check_lock_file(record["environment"], report)
    if record["kind"] == "localisation":
        check_localisation_rows(table_csv, record, report)
    elif record["kind"] == "wsol2020":
        check_recomputed(table_csv, record, report)
        for path in record["results"]:
            check_wsol2020_chain(path, report)
    else:
        check_recomputed(table_csv, record, report)
    check_files(record["inputs"], "input", report)
    check_upstream(record.get("upstream", {}), report)
    check_files(record["outputs"], "table file", report)
    return report


# --- code, config, environment ---


def check_code(code, report):
    recorded = code.get("files_md5")
    if not recorded:
        report.fail("code", "no code version recorded (not built from a git checkout?)")
        return
    current = code_files() or {}
    changed = sorted(path for path in set(recorded) | set(current) if recorded.get(path) != current.get(path))
    state = "with uncommitted changes" if code.get("dirty") else "clean"
    where = f"commit {str(code.get('commit'))[:12]} ({state})" if code.get("commit") \
        else f"infocam {code.get('version')} (installed package)"
    report.check(not changed, "code", f"{where}, {len(recorded)} code files unchanged",
                 f"{len(changed)} code file(s) differ from {where}, e.g. {changed[0] if changed else ''}")


def merged_config(files):
    """The config Snakemake builds from --configfile FILES: later files update earlier ones, key by key."""
    merged = {}
    for path in files:
        _update(merged, yaml.safe_load(Path(path).read_text()) or {})
    return merged


def _update(base, new):
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value


def _first_difference(old, new, prefix=""):
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found = _first_difference(a, b, f"{prefix}{key}.")
            if found:
                return found
        elif a != b:
            return f"{prefix}{key}"
    return None


def check_config(config, report):
    files = config.get("files")
    if not files or config.get("config") is None:
        report.fail("config", "no config recorded (built outside the workflow?)")
        return
    missing = [path for path in files if not Path(path).is_file()]
    if missing:
        report.fail("config", f"recorded config file {missing[0]} is gone")
        return
    overrides = config.get("overrides") or {}
    merged = merged_config(files)
    _update(merged, overrides)
    current = resolved(merged)
    names = ", ".join(files)
    given = f" with --config overrides of {', '.join(sorted(overrides))}" if overrides else ""
    if config_sha256(current) == config["sha256"] == config_sha256(config["config"]):
        report.ok("config", f"sha256 {config['sha256'][:12]} ({names}{given}), unchanged")
    else:
        key = _first_difference(config["config"], current) or "?"
        report.fail("config", f"{names} no longer give the recorded config (first difference: {key})")


def check_lock_file(environment, report):
    recorded = environment.get("lock_file_md5")
    current = file_md5(LOCK_FILE) if LOCK_FILE.exists() else None
    report.check(recorded == current, "environment", f"lock file md5 {str(current)[:12]}, unchanged",
                 f"envs/requirements.lock md5 is {current}, the record says {recorded}")


def check_files(recorded, kind, report):
    for path, md5 in recorded.items():
        check_md5(path, md5, f"{kind} {path}", report)


def check_md5(path, md5, where, report):
    if not Path(path).is_file():
        return report.check(False, where, "", "missing")
    actual = file_md5(path)
    return report.check(actual == md5, where, f"md5 {md5[:12]}", f"md5 is {actual}, recorded {md5}")


def check_dvc(path, where, report):
    """The file or folder's content is what its .dvc file records (nothing to check when DVC was not used)."""
    if not report.dvc_used:
        return True
    recorded = dvc_tracking.recorded_md5(path)
    if recorded is None:
        return report.check(False, where, "", f"not DVC-tracked (no {dvc_tracking.record_path(path)})")
    if Path(path).is_dir():
        changes = _folder_changes(str(path))
        return report.check(not changes, where, f"DVC {recorded[:12]}", f"differs from its DVC record: {changes}")
    actual = file_md5(path)
    return report.check(actual == recorded, where, f"DVC {recorded[:12]}", f"md5 is {actual}, DVC records {recorded}")


def check_upstream(upstream, report):
    """Data the per-job results were made from: md5 as recorded, and as DVC records it where tracked."""
    for path, md5 in upstream.items():
        if check_md5(path, md5, f"data {path}", report):
            tracked = next((p for p in (Path(path), Path(path).parent) if dvc_tracking.record_path(p).is_file()), None)
            if tracked is not None:
                check_dvc(tracked, f"data {tracked}", report)


@functools.lru_cache(maxsize=None)
def _folder_changes(path):
    """`dvc status` of a tracked folder, asked once per audit (it hashes every file)."""
    return dvc_tracking.changed([path])


# --- localisation tables: row by row down to the raw archive ---


def check_localisation_rows(table_csv, record, report):
    from infocam.wsol.tables import CELL_KEYS

    table = pd.read_csv(table_csv)
    recomputed = recompute_localisation_table(record)
    summaries = {path: json.loads(Path(path).read_text()) for path in record["inputs"] if path.endswith(".json")
                 and Path(path).is_file()}
    checked = {}
    for index, row in table.iterrows():
        where = f"row {index + 1} ({', '.join(str(row[key]) for key in _row_keys(table))})"
        check_row_numbers(row, recomputed, table, where, report)
        cell = tuple(row[key] for key in CELL_KEYS)
        sources = [path for path, summary in summaries.items() if _summary_cell(summary) == cell]
        if not report.check(bool(sources), where, f"{len(sources)} summaries", "no evaluation summary for this row"):
            continue
        for path in sources:
            if path not in checked:
                checked[path] = check_summary_chain(path, summaries[path], report)
                checked[path] &= check_dataset_identity(path, summaries[path], record, report)
            report.check(checked[path], where, f"chain below {path} holds", f"chain below {path} is broken")


def _row_keys(table):
    return [key for key in ("dataset", "backbone", "method", "adl", "region", "subtraction", "geometry") if key in table]


def _summary_cell(summary):
    return (summary["dataset"], summary["cell"]["backbone"], bool(summary["cell"]["adl"]))


def check_row_numbers(row, recomputed, table, where, report):
    keys = _row_keys(table)
    match = recomputed
    for key in keys:
        match = match[match[key] == row[key]]
    if len(match) != 1:
        report.fail(where, "no such row when recomputed from the per-image records")
        return
    numbers = [column for column in table.columns if column in recomputed and not column.startswith("paper_")
               and column not in keys and pd.api.types.is_numeric_dtype(table[column])]
    expected = match.iloc[0]
    wrong = [f"{column} {row[column]} (recomputed {expected[column]})" for column in numbers
             if abs(float(row[column]) - float(expected[column])) > TOLERANCE]
    report.check(not wrong, where, "numbers equal those recomputed from the per-image records", "; ".join(wrong))


def recompute_localisation_table(record):
    """The table built again from summaries whose metrics come from their per-image records."""
    from infocam.wsol.tables import build_table

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for i, path in enumerate(p for p in record["inputs"] if p.endswith(".json")):
            summary = json.loads(Path(path).read_text())
            summary.update(metrics_from_per_image(summary["provenance"]["per_image"]["path"], summary["methods"]))
            paths.append(Path(folder) / f"{i}.json")
            paths[-1].write_text(json.dumps(summary))
        return build_table(record["table"], paths, record["published"])


def metrics_from_per_image(per_image_path, methods):
    from infocam.wsol.evaluate import metrics_from_records

    with gzip.open(per_image_path) as stream:
        return metrics_from_records(pd.read_csv(stream), methods)


def check_summary_chain(path, summary, report):
    """summary -> per-image records -> checkpoint (-> its pretrained start) -> split -> raw archive;
    True when every link holds."""
    provenance = summary["provenance"]
    before = len(report.broken)
    per_image = provenance["per_image"]
    check_md5(per_image["path"], per_image["md5"], f"{path} -> per-image {per_image['path']}", report)
    if Path(per_image["path"]).is_file():
        recomputed = metrics_from_per_image(per_image["path"], summary["methods"])["methods"]
        wrong = [method for method, metrics in summary["methods"].items()
                 if any(abs(metrics[key] - recomputed[method][key]) > 1e-9 for key in ("gt_loc", "top1_loc"))]
        report.check(not wrong, f"{path}", "metrics equal those of its per-image records",
                     f"metrics of {', '.join(wrong)} differ from its per-image records")
    checkpoint = provenance["checkpoint"]
    if check_md5(checkpoint["path"], checkpoint["md5"], f"{path} -> checkpoint {checkpoint['path']}", report):
        check_dvc(checkpoint["path"], f"checkpoint {checkpoint['path']}", report)
    pretrained = provenance.get("pretrained")
    if pretrained and check_md5(pretrained["path"], pretrained["md5"],
                                f"{checkpoint['path']} -> pretrained {pretrained['path']}", report):
        check_dvc(pretrained["path"], f"pretrained checkpoint {pretrained['path']}", report)
    check_dataset(provenance["dataset"], path, report)
    return len(report.broken) == before


def expected_source(name, spec):
    """What source.json of a prepared dataset holds when it was made from config entry `spec`."""
    if spec["source"] == "local" and Path(spec["path"]).is_dir():
        return {"extracted": str(Path(spec["path"]).resolve())}
    archive = spec["path"] if spec["source"] == "local" else f"data/raw/{name}/{spec['archive']}"
    return {"archive": archive} if spec["source"] == "synthetic" else {"archive": archive, "md5": spec["md5"]}


def check_dataset_identity(summary_path, summary, record, report):
    """The evaluated data are the dataset the table's config names (its source, archive and md5)."""
    name = summary["dataset"]
    spec = ((record["config"].get("config") or {}).get("datasets") or {}).get(name)
    where = f"{summary_path} -> dataset {name}"
    if spec is None:
        return report.check(False, where, "", "the table's config names no such dataset")
    source = summary["provenance"]["dataset"].get("source") or {}
    expected = expected_source(name, spec)
    wrong = {key: source.get(key) for key, value in expected.items() if source.get(key) != value}
    return report.check(not wrong, where, f"made from the config's {spec['source']} source",
                        f"made from {wrong}, but the config names {expected}")


def check_dataset(dataset, summary_path, report):
    prepared = Path(dataset["prepared"])
    for name, md5 in dataset["files_md5"].items():
        check_md5(prepared / name, md5, f"{summary_path} -> split {prepared / name}", report)
    check_dvc(prepared, f"prepared dataset {prepared}", report)
    source = dataset.get("source") or {}
    archive = source.get("archive")
    if archive is None:
        report.ok(f"prepared dataset {prepared}", f"read in place from {source.get('extracted')}, no archive")
        return
    if check_md5(archive, source["md5"], f"{prepared} -> raw archive {archive}", report):
        if Path(archive).resolve().is_relative_to(Path.cwd().resolve()):
            check_dvc(archive, f"raw archive {archive}", report)


# --- the other tables: recomputed from their per-job results ---


def check_recomputed(table_csv, record, report):
    rebuilt = rebuild_other_table(record)
    for output, frame in rebuilt.items():
        if not Path(output).is_file():
            continue
        current = pd.read_csv(output)
        where = f"table {output}"
        if current.shape != frame.shape or list(current.columns) != list(frame.columns):
            report.fail(where, "its shape differs from the table recomputed from its per-job results")
            continue
        differs = ~((current == frame) | (current.isna() & frame.isna()) | _close(current, frame)).all(axis=1)
        rows = [int(i) + 1 for i in current.index[differs]]
        first = rows[0] if rows else None
        report.check(not rows, where, f"{len(current)} rows equal those recomputed from the per-job results",
                     f"row {first} ({_row_text(current, first)}) differs from the per-job results")


def check_wsol2020_chain(result_path, report):
    """A 2020-protocol result -> its per-image hits and the selection it scored -> the checkpoints
    chosen among -> the prepared dataset."""
    result = json.loads(Path(result_path).read_text())
    check_md5(result["hits"]["path"], result["hits"]["md5"], result_path, report)
    selection_path = result["selection"]["path"]
    if check_md5(selection_path, result["selection"]["md5"], result_path, report):
        selection = json.loads(Path(selection_path).read_text())
        for checkpoint in selection["checkpoints"].values():
            check_md5(checkpoint["path"], checkpoint["md5"], selection_path, report)
        check_dataset(selection["provenance"]["dataset"], selection_path, report)


def _row_text(frame, number):
    if number is None:
        return ""
    row = frame.iloc[number - 1]
    return ", ".join(f"{key}={row[key]}" for key in frame.columns[:4])


def _close(a, b):
    numeric = a.select_dtypes("number").columns.intersection(b.select_dtypes("number").columns)
    close = pd.DataFrame(False, index=a.index, columns=a.columns)
    close[numeric] = (a[numeric] - b[numeric]).abs() <= 1e-4
    return close


def rebuild_other_table(record):
    """{output csv: frame recomputed from the recorded per-job results (the table's inputs)}."""
    published = record.get("published")
    results = [path for path in record["inputs"] if path != published]
    outputs = [path for path in record["outputs"] if path.endswith(".csv")]
    with tempfile.TemporaryDirectory() as folder:
        tmp = [Path(folder) / f"{i}.csv" for i in range(len(outputs))]
        md = Path(folder) / "table.md"
        if record["kind"] == "mi":
            from infocam.mi.experiment import write_mi_table
            write_mi_table(results, tmp[0], md, published)
        elif record["kind"] == "pc_softmax":
            from infocam.digits.imbalanced import write_pc_softmax_table
            write_pc_softmax_table(results, tmp[0], md, published)
        elif record["kind"] == "comparison":
            from infocam.wsol.compare import write_comparison
            write_comparison(results, tmp[0])
        elif record["kind"] == "claims":
            from infocam.claims import write_claims
            write_claims(record["roles"], tmp[0], md, record["synthetic"], record["mnist_stand_in"])
        elif record["kind"] == "wsol2020":
            from infocam.wsol.tables2020 import write_tables
            write_tables(record["results"], tmp[0], md, tmp[1], md, tmp[2], record["paper_summaries"])
        elif record["kind"] == "table2":
            from infocam.digits.double_digit import write_table2
            write_table2(results, tmp[0], tmp[1], md, record["region"], record["tau"], published)
        else:
            raise ValueError(f"unknown table kind '{record['kind']}'")
        return {output: pd.read_csv(path) for output, path in zip(outputs, tmp)}


def short_report(table_csv, report):
    """The code, config and environment lines, then how many links were checked."""
    head = [line for line in report.lines if line.split()[1] in ("dvc:", "code:", "config:", "environment:")]
    return "\n".join([f"audit {table_csv}", *head, f"audit {table_csv}: all {len(report.lines)} links hold"])


def format_report(table_csv, report):
    status = "all links hold" if not report.broken else f"{len(report.broken)} broken link(s)"
    return "\n".join([f"audit {table_csv}", *report.lines, f"audit {table_csv}: {status}"])
