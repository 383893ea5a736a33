"""Tracking results over commits and machines: asv result files, alerts, paired comparisons and bisection, reports, the fingerprint command, fleet runs, upgrade checks, run cost."""
