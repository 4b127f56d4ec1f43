"""infocam: softmax as a mutual-information estimator, PC-softmax and infoCAM."""

__version__ = "0.1.0"

def __getattr__(name):
    # Imported on first use: torch takes seconds to load, and every infocam command imports this package.
    if name in ("InfoCAM", "InfoCAMPlus"):
        from infocam import any_network
        return getattr(any_network, name)
    raise AttributeError(f"module 'infocam' has no attribute {name!r}")
