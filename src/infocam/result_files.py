"""Reading the per-job result CSVs that an experiment's table is built from."""

import pandas as pd


def read_result_csvs(paths, columns, what, dtype=None):
    """Concatenate result CSVs, each checked for `columns` (kept in that order); `what` names them in errors."""
    frames = []
    for path in paths:
        frame = pd.read_csv(path, dtype=dtype)
        missing = [column for column in columns if column not in frame.columns]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
        frames.append(frame[columns])
    if not frames:
        raise ValueError(f"no {what} result files given")
    return pd.concat(frames, ignore_index=True)
