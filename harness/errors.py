"""The one error type the harness raises for things a user can fix."""


class HarnessError(RuntimeError):
    """A failure with a one-line explanation; the CLI prints it and exits non-zero."""
