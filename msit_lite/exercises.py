"""The notebooks' exercise checker: compare a reader's prediction with the package's answer.

Every notebook's "predict, then run" exercises end in a cell whose output is collapsed: the reader
writes a guess, runs the cell, and :func:`reveal` compares it with an answer *computed from the
package* (never typed into the notebook). It prints -- a right answer, the answer when no guess was
entered, or the answer with a hint when the guess is wrong -- and never raises, so a wrong guess
cannot stop a notebook (or its nbval run) half way.
"""
from __future__ import annotations

from typing import Any

__all__ = ["reveal", "same_answer"]


def same_answer(guess: Any, answer: Any, close: float | None = None) -> bool:
    """Whether ``guess`` matches ``answer``: numbers within the relative tolerance ``close`` (exact when
    ``None``), sequences element by element, sets as sets, anything else as case-insensitive text."""
    if isinstance(guess, (int, float)) and isinstance(answer, (int, float)):
        return abs(guess - answer) <= (close or 0.0) * max(abs(answer), 1e-12)
    if isinstance(guess, (set, frozenset)) or isinstance(answer, (set, frozenset)):
        if not isinstance(guess, (set, frozenset, list, tuple)) or not isinstance(answer, (set, frozenset, list, tuple)):
            return False
        return {str(x).strip().lower() for x in guess} == {str(x).strip().lower() for x in answer}
    if isinstance(guess, (tuple, list)) and isinstance(answer, (tuple, list)):
        return len(guess) == len(answer) and all(same_answer(g, a, close) for g, a in zip(guess, answer))
    return str(guess).strip().lower() == str(answer).strip().lower()


def reveal(guess: Any, answer: Any, hint: str = "", close: float | None = None) -> None:
    """Print how ``guess`` compares with ``answer`` (see :func:`same_answer`); ``hint`` is shown only
    after a wrong guess. Sets are printed sorted, so that the output is the same in every process."""
    if isinstance(answer, (set, frozenset)):
        answer = sorted(answer)
        guess = sorted(guess) if isinstance(guess, (set, frozenset)) else guess
    if guess is None:
        print(f"(no prediction entered) the answer is {answer!r}")
    elif same_answer(guess, answer, close):
        print(f"✓ right: {answer!r}" + ("" if close is None else " (within tolerance)"))
    else:
        print(f"✗ you said {guess!r}, the package says {answer!r}" + (f" -- {hint}" if hint else ""))
