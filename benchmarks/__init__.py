"""Benchmarks of the churn_assets code location: data assets and training (see README.md)."""
