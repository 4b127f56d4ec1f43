"""infocam: softmax as a mutual-information estimator, PC-softmax and infoCAM."""


def __getattr__(name):
    if name == "__version__":  # pyproject.toml holds the release version; the installed metadata carries it
        from importlib.metadata import version
        return version("infocam")
    # Imported on first use: torch takes seconds to load, and every infocam command imports this package.
    if name in ("InfoCAM", "InfoCAMPlus"):
        from infocam import any_network
        return getattr(any_network, name)
    raise AttributeError(f"module 'infocam' has no attribute {name!r}")
