"""Where every number came from: provenance records, the audit, DVC tracking and the claims ledger's
audit. Rules: workflow/rules/provenance.smk."""
