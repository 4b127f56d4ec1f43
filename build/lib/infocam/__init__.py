"""infocam: softmax as a mutual-information estimator, PC-softmax and infoCAM."""

__version__ = "0.1.0"
