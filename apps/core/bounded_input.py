"""Input from outside, refused up front with a 4xx that names the field, so that nothing odd
reaches a query or costs unbounded work: NUL bytes (PostgreSQL cannot store them in text, and
psycopg raises), JSON nested deeper than anyone means (Python's parser recurses), and bodies
larger than any form or import (`portal/asgi.py` refuses those before they are read)."""

import json

MAX_JSON_DEPTH = 64
NUL = "\x00"


class BadInput(ValueError):
    """What is wrong, and with which field ("body" for the body as a whole)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def check_text(field: str, value: str) -> None:
    if NUL in value:
        raise BadInput(field, "Contains a NUL byte.")


def check_json(data: object) -> None:
    """No string or key with a NUL byte, nothing nested deeper than MAX_JSON_DEPTH; the field is
    named by its path (`service`, `steps[2].pause`). Iterative: the depth is what is checked."""
    pending = [(data, "", 1)]  # (value, its path, how many containers it is in, itself too)
    while pending:
        value, path, depth = pending.pop()
        if depth > MAX_JSON_DEPTH and isinstance(value, dict | list):
            raise BadInput("body", f"Nested more than {MAX_JSON_DEPTH} deep.")
        if isinstance(value, str):
            check_text(path or "body", value)
        elif isinstance(value, dict):
            for key, item in value.items():
                check_text(path or "body", key)
                pending.append((item, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def load_json(text: str | bytes) -> object:
    """json.loads, then check_json. Raises BadInput, or ValueError for text that is not JSON."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise BadInput("body", f"Nested more than {MAX_JSON_DEPTH} deep.") from None
    check_json(data)
    return data
