"""Replication positions (SPEC 13): what a replica must have applied to serve a read.

Pure values, no server: PostgreSQL WAL positions, MariaDB GTID positions
(per replication domain) and MySQL ``gtid_executed`` sets.  A read may go
to a replica whose position *covers* the caller's last write; a Database
keeps the *merge* of its writes' positions.  The topology tests drive the
first two against real servers; MySQL proper runs nowhere here, so its
sets are checked only here.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glancedb.commits import (
    UNKNOWN,
    GtidPosition,
    GtidSetPosition,
    Position,
    WalPosition,
    WritePosition,
)

lsns = st.integers(0, 2**64 - 1)
gtids = st.dictionaries(
    st.integers(0, 3), st.tuples(st.integers(1, 5), st.integers(0, 10**6)), min_size=1
).map(lambda domains: GtidPosition(tuple((d, s, n) for d, (s, n) in sorted(domains.items()))))


@given(lsns)
def test_a_wal_position_reads_back_from_its_text(lsn: int) -> None:
    position = WalPosition(lsn)
    assert WalPosition.parse(str(position)) == position
    assert str(WalPosition.parse("16/B374D848")) == "16/B374D848"
    assert WalPosition.parse("16/B374D848").lsn == (0x16 << 32) | 0xB374D848


@given(lsns, lsns)
def test_a_wal_position_covers_every_earlier_one(a: int, b: int) -> None:
    assert WalPosition(a).covers(WalPosition(b)) is (a >= b)
    assert WalPosition(a).merged(WalPosition(b)) == WalPosition(max(a, b))


def test_a_gtid_position_keeps_each_domains_last_transaction() -> None:
    parsed = GtidPosition.parse("0-1-100,\n1-2-7, 0-3-90,")
    assert parsed == GtidPosition(((0, 1, 100), (1, 2, 7)))
    assert str(parsed) == "0-1-100,1-2-7"
    assert GtidPosition.parse("") is None and GtidPosition.parse(" , ") is None


@given(gtids, gtids)
def test_a_gtid_position_covers_by_domain(a: GtidPosition, b: GtidPosition) -> None:
    seqs = {d: n for d, _s, n in a.domains}
    assert a.covers(b) is all(seqs.get(d, -1) >= n for d, _s, n in b.domains)
    merged = a.merged(b)
    assert isinstance(merged, GtidPosition)
    assert merged.covers(a) and merged.covers(b)
    assert {d for d, _s, _n in merged.domains} == {d for d, _s, _n in a.domains + b.domains}
    assert GtidPosition.parse(str(a)) == a


def test_a_gtid_set_counts_its_transactions() -> None:
    text = "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11,\nAA11FA47-71CA-11E1-9E33-C80AA9429562:7"
    parsed = GtidSetPosition.parse(text)
    assert parsed is not None and parsed.size == 5 + 1 + 1
    assert "\n" not in str(parsed)
    assert GtidSetPosition.parse("") is None
    grown = GtidSetPosition.parse(text.replace(":11", ":11-20"))
    assert grown is not None and grown.covers(parsed) and not parsed.covers(grown)
    assert parsed.merged(grown) == grown and grown.merged(parsed) == grown


def test_positions_of_different_kinds_never_cover_each_other() -> None:
    kinds: list[Position] = [
        WalPosition(10),
        GtidPosition(((0, 1, 10),)),
        GtidSetPosition("uuid:1-10", 10),
    ]
    for a in kinds:
        for b in kinds:
            assert a.covers(b) is (a is b)
        assert not UNKNOWN.covers(a) and not a.covers(UNKNOWN)


def test_a_database_keeps_the_furthest_of_its_writes() -> None:
    written = WritePosition()
    assert written.position is None
    written.advance(WalPosition(5), written.ticket())
    written.advance(WalPosition(3), written.ticket())  # committed earlier, reported later
    assert written.position == WalPosition(5)
    written.advance(UNKNOWN, written.ticket())  # a write whose position could not be read
    assert not any(written.position.covers(p) for p in (WalPosition(5), WalPosition(9)))
    # A write that began committing after it: its position lies past it.
    written.advance(WalPosition(9), written.ticket())
    assert written.position == WalPosition(9)


def test_an_unknown_position_gives_way_only_to_a_later_commit() -> None:
    """Thread B begins its COMMIT; thread A's write commits and its position
    cannot be read; B's position, read after, may still lie before A's commit."""
    written = WritePosition()
    written.advance(WalPosition(50), written.ticket())
    b_ticket = written.ticket()  # B: about to COMMIT
    written.advance(UNKNOWN, written.ticket())  # A: committed, position unknown
    written.advance(WalPosition(90), b_ticket)  # B's: perhaps before A's commit
    assert written.position is UNKNOWN  # so reads stay on the primary
    written.advance(WalPosition(120), written.ticket())  # C began committing after A
    assert written.position == WalPosition(120)
    c_ticket = written.ticket()
    written.advance(UNKNOWN, written.ticket())
    written.advance(UNKNOWN, written.ticket())
    written.advance(WalPosition(130), c_ticket)
    assert written.position is UNKNOWN
