"""Scorecards: Bronze, Silver and Gold levels of service maturity (as Cortex and OpsLevel have).

rules.py says what each rule checks and how to pass it; evaluation.py gathers what the rules
need for many services at once; services.py stores the scores and the weekly snapshots;
selectors.py reads them for the service panel, the rules page, the reports and the API.
"""
