"""Random tokens, their stored SHA-256 form and constant-time comparison."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from cinesonic.kit.tokens import hash_token, new_token, tokens_match


def test_new_token_has_the_prefix_and_url_safe_randomness() -> None:
    token = new_token("csk_")
    assert token.startswith("csk_")
    assert re.fullmatch(r"csk_[A-Za-z0-9_-]{43}", token)


def test_new_tokens_never_repeat() -> None:
    assert len({new_token() for _ in range(1000)}) == 1000


def test_token_length_follows_the_entropy_asked_for() -> None:
    assert len(new_token(nbytes=16)) == 22
    assert len(new_token(nbytes=64)) == 86


def test_hash_is_the_sha256_hex_digest() -> None:
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(new_token()))


@given(token=st.text())
def test_hash_is_deterministic_and_not_the_token(token: str) -> None:
    assert hash_token(token) == hash_token(token)
    assert hash_token(token) != token


@given(first=st.text(), second=st.text())
def test_different_tokens_hash_differently(first: str, second: str) -> None:
    assert (hash_token(first) == hash_token(second)) == (first == second)


@given(token=st.text())
def test_a_token_matches_itself(token: str) -> None:
    assert tokens_match(token, str(token))


@given(first=st.text(), second=st.text())
def test_tokens_match_only_when_equal(first: str, second: str) -> None:
    assert tokens_match(first, second) == (first == second)


def test_stored_hash_matches_a_presented_token() -> None:
    token = new_token()
    stored = hash_token(token)
    assert tokens_match(hash_token(token), stored)
    assert not tokens_match(hash_token(token + "x"), stored)
