"""Plugin scaffolds: packages that install and pass their contract tests as generated, for third parties to fill in."""
