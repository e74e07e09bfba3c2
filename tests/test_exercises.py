"""The notebooks' exercise checker never raises and says which way a prediction went."""
from __future__ import annotations

import pytest

from msit_lite.exercises import reveal, same_answer


@pytest.mark.parametrize(("guess", "answer", "close", "expected"), [
    (100, 104, 0.05, True), (100, 110, 0.05, False), (3, 3, None, True), (3.0, 3, None, True),
    ("Up-Left", "up-left", None, True), ((1, 2), [1, 2], None, True), ([1, 2], [1, 2, 3], None, False),
    ({"a", "b"}, ["b", "a"], None, True), ({"a"}, "a", None, False), ([1.0, 2.0], (1.02, 2.0), 0.05, True),
])
def test_same_answer(guess, answer, close, expected) -> None:
    assert same_answer(guess, answer, close) is expected


def test_reveal_prints_and_never_raises(capsys: pytest.CaptureFixture) -> None:
    reveal(None, 42)
    reveal(42, 42)
    reveal(40, 42, hint="count the bias", close=0.01)
    reveal(object(), {"x", "a"})
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "(no prediction entered) the answer is 42"
    assert out[1] == "✓ right: 42"
    assert out[2] == "✗ you said 40, the package says 42 -- count the bias"
    assert out[3].startswith("✗ you said <object") and out[3].endswith("['a', 'x']")
