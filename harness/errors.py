"""The one error type the harness raises for things a user can fix."""


class HarnessError(RuntimeError):
    """A failure with a one-line explanation; the CLI prints it and exits non-zero."""


class SettingsError(HarnessError):
    """A setting from the environment that makes no sense (see `harness.env`)."""
