"""uptflow.io.listing.natural_key: numbers inside names sort by value."""

from uptflow.io.listing import natural_key


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["frame10", "frame2", "a", "frame1", "10", "9", "pair13_0002", "pair13_0010", "pair2_0001"]
    assert sorted(names, key=natural_key) == ["9", "10", "a", "frame1", "frame2", "frame10",
                                              "pair2_0001", "pair13_0002", "pair13_0010"]
    assert sorted(["b", "a10", "a9"]) != sorted(["b", "a10", "a9"], key=natural_key)
