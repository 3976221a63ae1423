"""The device code's one error type."""


class BundleError(RuntimeError):
    """A bundle file that cannot be used; the message names the file and
    what to do."""
