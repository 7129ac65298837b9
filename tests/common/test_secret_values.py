"""drop_secret_values looks at a string with a pattern only when the string holds a word every match of
that pattern holds; these tests keep those words and the patterns in step."""

from __future__ import annotations

import pytest

from gpubal.common import secret_values
from gpubal.common.secret_values import REDACTED, SECRET_SHAPES, drop_secret_values

SHAPED = {  # one secret of each shape, in the order of SECRET_SHAPES
    "Authorization: Bearer abcdefgh12345678": "Authorization: Bearer " + REDACTED,
    "token hf_abcdefghijklmnopqrstuvwx": "token " + REDACTED,
    "key sk-proj-abcdefghijklmnop": "key " + REDACTED,
    "id AKIAABCDEFGHIJKLMNOP": "id " + REDACTED,
    "jwt eyJhbGciOi.eyJzdWIiOi.sig": "jwt " + REDACTED,
    "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789": "gh " + REDACTED,
    "slack xoxb-1234567890-abc": "slack " + REDACTED,
}


@pytest.mark.parametrize("text,shown", list(SHAPED.items()))
def test_each_shape_is_dropped(text, shown):
    assert drop_secret_values(text) == shown


def test_every_match_holds_one_of_its_words():
    for (words, pattern), text in zip(SECRET_SHAPES, SHAPED):
        match = pattern().search(text)
        assert match and any(word in match.group(0) for word in words), (words, text)


def test_the_one_pass_check_knows_every_word():
    every_word = [word for words, _ in SECRET_SHAPES for word in words] + ["://", "=", "--"]
    assert all(secret_values._ANY_WORD().search(word) for word in every_word)


def test_a_string_without_any_word_is_returned_as_it_is():
    text = "NVIDIA H200 at 0000:1b:00.0, driver 570.195.03"
    assert drop_secret_values(text) is text
