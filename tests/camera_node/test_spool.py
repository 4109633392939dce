"""The store-and-forward spool keeps order across restarts and never takes more of the card than its cap."""
import os

from camera_node.spool import MAX_HELD_BYTES, QueuedMessage, Spool
from tests.conftest import fill, read_only, tmpfs

ROOMY = 1 << 20  # a cap that holds every message of a test


def msg(i, size=100):
    return QueuedMessage("smartcam/cam1/events", bytes([i % 256]) * size, 1, False)


def drain(spool):
    out = []
    while (item := spool.peek()) is not None:
        path, m = item
        out.append(m.payload[0])
        spool.ack(path)
    return out


def test_fifo_order_survives_a_restart(tmp_path):
    s = Spool(tmp_path, ROOMY)
    for i in range(5):
        s.put(msg(i))
    again = Spool(tmp_path, ROOMY)
    assert len(again) == 5 and drain(again) == [0, 1, 2, 3, 4]
    assert again.bytes == 0


def test_over_the_cap_the_oldest_are_dropped_and_counted(tmp_path):
    cap = 8 * os.statvfs(tmp_path).f_frsize
    s = Spool(tmp_path, cap)
    for i in range(20):
        s.put(msg(i))
    assert s.bytes <= cap and s.dropped > 0
    kept = drain(s)
    assert kept == list(range(20 - len(kept), 20))  # the newest survive, in order


def test_unreadable_files_are_skipped_and_counted(tmp_path):
    s = Spool(tmp_path, ROOMY)
    s.put(msg(1))
    s.put(msg(2))
    min(tmp_path.glob("*.msg")).write_bytes(b"junk")
    assert drain(s) == [2] and s.dropped == 1


def test_a_message_larger_than_the_cap_is_dropped(tmp_path):
    s = Spool(tmp_path, 200)
    s.put(msg(1, size=500))
    assert len(s) == 0 and s.dropped == 1


def test_messages_round_trip():
    m = QueuedMessage("a/b/thumbnail/e1", b"\xff\xd8data", 1, True)
    assert QueuedMessage.decode(m.encode()) == m


def test_a_discarded_unreadable_file_gives_its_bytes_back_to_the_cap(tmp_path):
    s = Spool(tmp_path, ROOMY)
    s.put(msg(1))
    s.put(msg(2))
    min(tmp_path.glob("*.msg")).write_bytes(b"junk")
    assert drain(s) == [2] and s.bytes == 0  # the cap does not shrink for ever after


def test_acking_a_file_that_is_already_gone_is_not_an_error(tmp_path):
    s = Spool(tmp_path, ROOMY)
    s.put(msg(1))
    path, _ = s.peek()
    path.unlink()  # the card lost it (or an operator cleaned up)
    s.ack(path)
    assert len(s) == 0 and s.bytes == 0


def test_the_cap_counts_what_the_card_spends_not_payload_bytes(tmp_path):
    """200-byte messages on a real 256 KiB filesystem: each file takes a whole block, and a 64 KiB cap holds."""
    with tmpfs(tmp_path / "card", "256k") as card:
        s = Spool(card / "queue", 64 * 1024)
        used_before, block = _used(card), os.statvfs(card).f_frsize
        for i in range(500):  # 100 KB of payload: far more than the card holds as one file each
            s.put(msg(i, size=200))
            assert _used(card) - used_before <= 64 * 1024 + block  # the cap, plus the file just written
        assert s.bytes == _used(card) - used_before <= 64 * 1024
        assert s.dropped == 500 - len(s) and len(s) == 64 * 1024 // block  # a block per message
        assert drain(s)[-1] == 499 % 256  # the newest survive


def _used(mount):
    st = os.statvfs(mount)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def test_messages_the_full_card_refuses_are_held_in_memory_and_delivered_in_order(tmp_path):
    """An alert is not lost because the card is full (or read-only: a failing SD card): what the card refuses waits
    in memory, after what the card already holds, and what comes next waits behind it, so order holds."""
    with tmpfs(tmp_path / "card", "64k") as card:
        s = Spool(card / "queue", ROOMY)
        for i in range(3):
            s.put(msg(i))
        fill(card)
        for i in range(3, 6):
            s.put(msg(i))  # the card says ENOSPC: no error, nothing dropped
        (card / "filler.bin").unlink()  # room again: still behind the held ones
        s.put(msg(6))
        assert len(s) == 7 and s.dropped == 0
        assert drain(s) == [0, 1, 2, 3, 4, 5, 6] and len(s) == 0


def test_the_messages_held_in_memory_are_bounded_the_oldest_going_first(tmp_path):
    with tmpfs(tmp_path / "card", "64k") as card:
        s = Spool(card / "queue", ROOMY)
        fill(card)
        n = 3 * MAX_HELD_BYTES // 1000
        for i in range(n):
            s.put(msg(i, size=1000))
        kept = drain(s)
        assert 0 < len(kept) <= MAX_HELD_BYTES // 1000 and s.dropped == n - len(kept)
        assert kept == [i % 256 for i in range(n - len(kept), n)]  # the newest, in order


def test_a_card_gone_read_only_neither_stops_delivery_nor_the_queue(tmp_path):
    """A failing SD card turns read-only: delivered files cannot be deleted (they are sent again after a
    restart, as QoS 1 allows) and new messages wait in memory, all in order."""
    with tmpfs(tmp_path / "card", "64k") as card:
        s = Spool(card / "queue", ROOMY)
        s.put(msg(0))
        s.put(msg(1))
        read_only(card)
        s.put(msg(2))
        assert drain(s) == [0, 1, 2] and len(s) == 0
