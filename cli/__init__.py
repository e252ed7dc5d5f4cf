"""`runway`: Runway from a pipeline or a terminal, through the public API only.

Its exit codes (cli/exits.py) are what a pipeline trusts: never 0 unless the change reached its
goal."""
