"""The per-command deadline timer must never outlive an interrupted command."""

import threading

import pytest

from harness.guest.ssh import SSHGuest


class FakeTransport:
    def close(self):
        pass


def interrupted_guest(monkeypatch):
    guest = object.__new__(SSHGuest)
    monkeypatch.setattr(guest, "_transport", lambda: FakeTransport(), raising=False)
    real_start = threading.Timer.start

    def start_then_interrupt(timer):
        real_start(timer)        # the thread runs; then SIGINT lands in start()
        raise KeyboardInterrupt

    monkeypatch.setattr(threading.Timer, "start", start_then_interrupt)
    return guest


def test_interrupt_while_starting_the_timer_leaves_no_thread(monkeypatch):
    guest = interrupted_guest(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        guest.run("sleep 600", timeout=3600)
    timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
    # A live non-daemon timer would keep the CLI alive for an hour at exit.
    assert all(t.daemon for t in timers)
    for t in timers:
        t.join(1)
    assert not any(t.is_alive() for t in timers), "the timer was not cancelled"
