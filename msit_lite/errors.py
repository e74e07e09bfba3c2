"""User-facing errors.

Everything that is the user's to fix (a missing file, a corrupt image, a bad scale, a checkpoint
that does not fit its config) raises :class:`MsitError` with a one-line message that names the
culprit and says what to do. The CLI prints that line and exits non-zero; it never shows a
traceback from deep inside torch for such cases.
"""


class MsitError(Exception):
    """An error caused by input, data or configuration, with a message meant for the user."""
