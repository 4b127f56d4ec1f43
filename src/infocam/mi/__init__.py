"""The softmax paper's MI experiment: Gaussian data with known MI, the estimators, table and figure.
Rules: workflow/rules/mi.smk."""
