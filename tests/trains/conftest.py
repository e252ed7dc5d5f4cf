# The cluster simulator in the test process, for the trains that execute against it.
from tests.rollouts.conftest import cluster  # noqa: F401
