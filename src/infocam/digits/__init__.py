"""The digit experiments: imbalanced MNIST/CUB (softmax, PC-softmax, DropMax), double-digit MNIST
(Table 2, CAM vs infoCAM) and info-masking. Rules: workflow/rules/digits.smk."""
