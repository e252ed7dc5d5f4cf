# The cluster simulator in the test process, for the trains that execute against it; two
# clusters for rings.
from tests.rollouts.conftest import cluster, eu1, eu2  # noqa: F401
