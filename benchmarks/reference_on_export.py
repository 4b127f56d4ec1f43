"""Not a timing: the reference evaluator's own evaluate_wsol on our export-maps folder, against ours.

Exports the wsol-oracle fixture with export_reference_layout (224 x 224 normalised maps, as the
reference's inference.py saves them), scores the folder with our localize-eval --scoremaps
--metadata, then runs the reference's evaluation.evaluate_wsol (its own metadata readers,
score-map loading and BoxEvaluator) on the same folder: MaxBoxAcc (IoU 50, largest contour)
and MaxBoxAccV2 (mean over IoU 30/50/70, every contour), both at cam_curve_interval 0.01.
Prints both and exits 1 if they differ. Needs a scratch copy of clovaai/wsolevaluation, which
no clone of this repository has, hence a script and not a test:

    git --git-dir=<mirror of clovaai/wsolevaluation> archive HEAD -- '*.py' | tar -x -C /tmp/wsolref
    .venv/bin/python benchmarks/reference_on_export.py --reference /tmp/wsolref

The reference imports munch (for its metadata record) which the venv lacks; a stand-in dict
with attribute access takes its place. NumPy 2 removed np.float, which the reference's
check_scoremap_validity compares dtypes against; the alias is restored for the run. Torch's
DataLoader reads the maps, as in the reference.
"""

import argparse
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

from infocam.wsol.reference_format import export_reference_layout, localize_eval_reference

REPO = Path(__file__).resolve().parents[1]
ORACLE = REPO / "tests" / "fixtures" / "wsol-oracle"


class _Munch(dict):
    """What the reference uses munch.Munch for: a dict whose keys are also attributes."""

    __getattr__ = dict.__getitem__
    __setattr__ = dict.__setitem__


def import_reference_evaluation(folder):
    if not (Path(folder) / "evaluation.py").is_file():
        raise SystemExit(f"--reference {folder}: expected a copy of clovaai/wsolevaluation (evaluation.py)")
    if "munch" not in sys.modules:
        sys.modules["munch"] = types.ModuleType("munch")
        sys.modules["munch"].Munch = _Munch
    if not hasattr(np, "float"):
        np.float = float
    sys.path.insert(0, str(Path(folder).resolve()))
    import evaluation

    return evaluation


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="a copy of clovaai/wsolevaluation")
    parser.add_argument("--oracle", type=Path, default=ORACLE, help="wsol-oracle fixture folder")
    args = parser.parse_args()
    evaluation = import_reference_evaluation(args.reference)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        export_reference_layout(args.oracle / "cams.npz", args.oracle / "images.csv", args.oracle / "boxes.csv",
                                scratch / "export")
        localize_eval_reference(scratch / "export" / "scoremaps", scratch / "export" / "metadata", scratch / "ours.json")
        ours = json.loads((scratch / "ours.json").read_text())
        (scratch / "metadata_root" / "CUB").mkdir(parents=True)
        (scratch / "metadata_root" / "CUB" / "test").symlink_to(scratch / "export" / "metadata")
        scores = {}
        for name, multi_contour, ours_key in (("MaxBoxAcc", False, "maxboxacc_v1_iou50"),
                                              ("MaxBoxAccV2", True, "maxboxacc_v2_mean")):
            reference = evaluation.evaluate_wsol(
                scoremap_root=str(scratch / "export" / "scoremaps"), metadata_root=str(scratch / "metadata_root"),
                mask_root=str(scratch), dataset_name="CUB", split="test", multi_contour_eval=multi_contour,
                multi_iou_eval=multi_contour, iou_threshold_list=[30, 50, 70], cam_curve_interval=0.01)
            scores[name] = (float(reference), ours[ours_key])
    for name, (reference, our_value) in scores.items():
        print(f"{name:12s} reference evaluate_wsol {reference:.6f}, ours {our_value:.6f}")
    if any(abs(reference - our_value) > 1e-9 for reference, our_value in scores.values()):
        raise SystemExit("the reference and ours differ on the exported folder")
    print(f"identical on {ours['n_images']} exported maps")


if __name__ == "__main__":
    main()
