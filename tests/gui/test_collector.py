"""Cyclic garbage is collected in the GUI thread only (a collection in the worker thread can deadlock)."""
from __future__ import annotations

import gc
import threading

import pytest

pytestmark = pytest.mark.gui


def test_a_window_switches_automatic_collection_off(make_window):
    w = make_window(wait_loaded=False)
    assert not gc.isenabled()
    from hmob_gui.gui import collector

    assert collector.install() is collector.install()  # one collector, however many windows
    assert w.worker.thread.isRunning()


def test_the_timer_collects_in_the_gui_thread(qtbot, gui_thread_gc):
    threads = []

    def on_collect(phase, info):
        if phase == "start":
            threads.append(threading.current_thread())

    class Cycle:
        pass

    for _ in range(2 * gc.get_threshold()[0]):  # garbage enough to pass generation 0's threshold
        c = Cycle()
        c.me = c
    del c
    gc.callbacks.append(on_collect)
    try:
        gui_thread_gc.timer.setInterval(10)
        qtbot.waitUntil(lambda: len(threads) > 0, timeout=5000)
    finally:
        gui_thread_gc.timer.setInterval(1000)
        gc.callbacks.remove(on_collect)
    assert threads and all(t is threading.main_thread() for t in threads)


def test_a_library_that_switches_it_back_on_is_overruled(qtbot, gui_thread_gc):
    gc.enable()
    gui_thread_gc.check()
    assert not gc.isenabled()
