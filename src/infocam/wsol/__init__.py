"""Weakly supervised object localisation (the infoCAM paper): models, CAM variants, localisation,
training, evaluation, tables, comparisons and figures. Rules: workflow/rules/{train,evaluate,tables}.smk."""
