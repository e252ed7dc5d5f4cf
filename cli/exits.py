"""What `runway` exits with: a pipeline decides on these, so each means one thing."""

SUCCEEDED = 0
USAGE = 1  # a bad option, a missing setting, a request Runway found invalid
REFUSED = 2  # policy, change window or freeze: the reason is printed
REJECTED = 3  # an approver rejected it
FAILED = 4  # failed, rolled back, aborted or cancelled: it is not running
TIMED_OUT = 5  # still not finished when --timeout ran out
FORBIDDEN = 6  # authentication failed, or the role or team may not do it
UNREACHABLE = 7  # Runway did not answer, or answered 5xx, after the retries

MEANINGS = {
    SUCCEEDED: "succeeded",
    USAGE: "usage or configuration error",
    REFUSED: "refused by a policy, a change window or a freeze",
    REJECTED: "rejected by an approver",
    FAILED: "failed, rolled back or cancelled",
    TIMED_OUT: "timed out waiting",
    FORBIDDEN: "authentication or permission",
    UNREACHABLE: "Runway unreachable after retries",
}


class CliError(Exception):
    """Ends the command with `code`, printing `message` on standard error."""

    def __init__(self, code: int, message: str, body: object = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.body = body
