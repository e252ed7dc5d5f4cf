"""What the trains app tells later apps without knowing them: the rollouts app announces a
train's changes to the pages that follow it live (apps/rollouts/live.py)."""

from django.dispatch import Signal

# Sent with `train` after its state changed or it was promoted, inside the transaction that
# changed it.
train_changed = Signal()
