"""Holding versions: an environment pinned to one version, a version marked bad for good. Both
are gates of every release (apps/releases/gates.py) and flags on the service page."""
