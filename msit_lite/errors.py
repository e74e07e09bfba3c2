"""User-facing errors.

Everything that is the user's to fix (a missing file, a corrupt image, a bad scale, a checkpoint
that does not fit its config) raises :class:`MsitError` with a one-line message that names the
culprit and says what to do. The CLI prints that line and exits non-zero; it never shows a
traceback from deep inside torch for such cases.
"""


class MsitError(Exception):
    """An error caused by input, data or configuration, with a message meant for the user."""



def describe(exc: BaseException, limit: int = 200) -> str:
    """``"Type: first line of the message"`` in one line (just ``"Type"`` for an empty message).

    Why a helper: library exceptions may carry an empty message (``torch.load`` of a 0-byte file
    raises ``EOFError()``), and formatting one with ``str(e).splitlines()[0]`` raised an
    ``IndexError`` of its own -- a traceback instead of the one-line message it was building.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:limit]}" if lines else type(exc).__name__
