"""A kubeconfig for the simulator that the `kubernetes` Python client and kubectl both accept."""

from pathlib import Path

CONTEXT = "runway-sim"
TOKEN = "runway-simulator-token"  # the simulator checks no credentials; clients want one

_TEMPLATE = """\
apiVersion: v1
kind: Config
clusters:
- name: {context}
  cluster:
    server: {server}
contexts:
- name: {context}
  context:
    cluster: {context}
    user: {context}
    namespace: {namespace}
current-context: {context}
users:
- name: {context}
  user:
    token: {token}
preferences: {{}}
"""


def render_kubeconfig(server_url: str, *, namespace: str = "default") -> str:
    return _TEMPLATE.format(context=CONTEXT, server=server_url, namespace=namespace, token=TOKEN)


def write_kubeconfig(path: str | Path, server_url: str, *, namespace: str = "default") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_kubeconfig(server_url, namespace=namespace))
    path.chmod(0o600)
    return path
