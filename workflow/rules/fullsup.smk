"""Helpers of the train-fullsup rules in data.smk."""

import os

# --- CUB's train-fullsup (CUBV2) of the wsol2020 protocol: a tar of class folders and four metadata
# files in the reference evaluator's format (infocam.data.fullsup, docs/datasets.md) ---

FULLSUP_METADATA = ("image_ids", "image_sizes", "localization", "class_labels")
# datasets.<name>.fullsup of every CUB-format dataset whose protocols list wsol2020
FULLSUP = {
    name: spec["fullsup"]
    for name, spec in DATA_SOURCES.items()
    if spec["format"] == "cub" and "wsol2020" in spec.get("protocols", ["paper"])
}
FULLSUP_SYNTHETIC = [name for name, fullsup in FULLSUP.items() if fullsup["source"] == "synthetic"]
FULLSUP_DOWNLOADED = [name for name, fullsup in FULLSUP.items() if fullsup["source"] == "url"]


def fullsup_images(dataset):
    """The train-fullsup tar (or, source local, a folder of class folders) of `dataset`; [] without one."""
    if dataset not in FULLSUP:
        return []
    fullsup = FULLSUP[dataset]
    return fullsup["path"] if fullsup["source"] == "local" else f"data/raw/{dataset}/{fullsup['archive']}"


def fullsup_metadata(dataset):
    """The four metadata files: beside the tar in `<archive>.metadata/`, or in place (source local)."""
    if dataset not in FULLSUP:
        return []
    fullsup = FULLSUP[dataset]
    folder = fullsup["metadata"] if fullsup["source"] == "local" else f"{fullsup_images(dataset)}.metadata"
    return [os.path.join(folder, f"{name}.txt") for name in FULLSUP_METADATA]


def fullsup_options(wildcards, input):
    """`infocam prepare`'s train-fullsup options: the images, their checksum, the metadata and its checksums."""
    if wildcards.dataset not in FULLSUP:
        return ""
    fullsup = FULLSUP[wildcards.dataset]
    options = [f"--fullsup {input.fullsup}", f"--fullsup-metadata {os.path.dirname(input.fullsup_metadata[0])}"]
    if fullsup["source"] == "synthetic":
        options.append(f"--fullsup-md5-file {input.fullsup}.md5")
    elif fullsup.get("md5") and not os.path.isdir(input.fullsup):
        options.append(f"--fullsup-md5 {fullsup['md5']}")
    if fullsup["source"] != "synthetic":  # the generator's metadata are checked through its .md5 file
        checksums = sorted((fullsup.get("metadata_md5") or {}).items())
        options += [f"--fullsup-metadata-md5 {name}={md5}" for name, md5 in checksums]
    return " ".join(options)


def fullsup_download_md5(wildcards):
    md5 = FULLSUP[wildcards.dataset].get("md5")
    return f"--md5 {md5}" if md5 else "--no-md5"
