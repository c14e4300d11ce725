"""Hypothesis strategies for the 4-byte rule (SPEC 12)."""

from __future__ import annotations

from hypothesis import strategies as st

# Characters every backend stores: the Basic Multilingual Plane without
# surrogates (not encodable) and NUL (PostgreSQL text cannot hold it).
BMP_CHARS = st.characters(max_codepoint=0xFFFF, codec="utf-8", exclude_characters="\x00")

#: Any BMP string a 255-character column can hold.
BMP_TEXT = st.text(alphabet=BMP_CHARS, max_size=255)

#: A string with at least one character outside the BMP (4 bytes in UTF-8).
FOUR_BYTE_TEXT = st.builds(
    lambda head, char, tail: head + char + tail,
    st.text(alphabet=BMP_CHARS, max_size=20),
    st.characters(min_codepoint=0x10000, codec="utf-8"),
    st.text(alphabet=BMP_CHARS, max_size=20),
)
