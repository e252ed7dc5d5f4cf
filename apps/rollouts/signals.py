from django.dispatch import Signal

# Sent after a rollout's Deployment row is written or changes result (a later rollback).
# Arguments: deployment. The reports app listens; the rollouts app knows nothing of it.
deployment_recorded = Signal()
