"""Serving: the load client and its metrics (client.py, metrics.py), the SLO search (slo.py), the
servers it drives (servers.py), the prompts (prompts.py), and the case functions (cases.py, cases_slo.py)."""
