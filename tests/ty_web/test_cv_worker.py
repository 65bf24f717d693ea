"""CV processing in worker processes (ty_web/cv/worker.py): the same answers as in-process, errors re-created
with their class and message, and the hard limits: a job past its time is killed and its worker replaced, as is
one past its memory or one that dies; no free worker within the queue wait is 503; close() leaves no process.

The pool's test hook ``_job`` (:func:`job`, imported by the workers from this module) runs ``process_cv``
for ordinary files and misbehaves on command: ``stall`` (a regex that backtracks for ever holding the GIL),
``hog`` (more memory than allowed), ``die`` (SIGKILL itself), ``boom`` (a plain exception), ``probe`` (reports
the worker's limits and signal settings).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import resource
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from types import SimpleNamespace

import psutil
import pytest

from ty_testing.cvs import sample
from ty_web.cv import CvDraft, CvResult, CvTooLarge, CvUnreadable, CvUnsupported, process_cv
from ty_web.cv.extract import OLE_MAGIC
from ty_web.cv.worker import CvBusy, CvTimeout, CvWorkerCrashed, CvWorkers

MAX = 5 * 1024 * 1024
MIB = 1024 * 1024
MEMORY_MB = 256
TIME_LIMIT_S = 1.0
GRACE_S = 0.3
QUEUE_WAIT_S = 0.3


def job(data: bytes, max_bytes: int, **kwargs) -> CvResult:
    """The workers' job in these tests (runs in the worker process)."""
    if data == b"stall":
        re.match(r"(a+)+$", "a" * 64 + "b")  # 2**64 steps in C: holds the GIL, checks no clock
    elif data == b"hog":
        bytearray(2 * MEMORY_MB * MIB)
    elif data == b"die":
        os.kill(os.getpid(), signal.SIGKILL)
    elif data == b"boom":
        raise RuntimeError("a bug, not a CvError")
    elif data == b"probe":
        deathsig = ctypes.c_int(0)
        ctypes.CDLL(None).prctl(2, ctypes.byref(deathsig), 0, 0, 0)  # PR_GET_PDEATHSIG
        report = {"rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0], "ppid": os.getppid(),
                  "sigint_ignored": signal.getsignal(signal.SIGINT) == signal.SIG_IGN,
                  "sigint_blocked": signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []),  # since its start
                  "deathsig": deathsig.value, "time_limit_s": kwargs["time_limit_s"]}
        return CvResult("text", json.dumps(report), CvDraft(), {})
    return process_cv(data, max_bytes, **kwargs)


@cache
def rendered(key: str, fmt: str) -> bytes:
    return sample(key).render(fmt)


@pytest.fixture(scope="module")
def pool():
    with CvWorkers(1, TIME_LIMIT_S, MEMORY_MB, QUEUE_WAIT_S, kill_grace_s=GRACE_S, _job=job) as workers:
        yield workers


def ok(workers: CvWorkers) -> int:
    """Run an ordinary job (waiting for a replacement worker to start) and return the worker's pid."""
    assert workers.process(rendered("kita", "text"), MAX).kind == "text"
    (pid,) = workers.pids()
    return pid


def raises(workers: CvWorkers, data: bytes) -> tuple[Exception, float, float]:
    """The error, how long the call took, and when it ended (time.monotonic())."""
    started = time.monotonic()
    with pytest.raises(Exception) as info:
        workers.process(data, MAX)
    ended = time.monotonic()
    return info.value, ended - started, ended


@pytest.mark.parametrize(("key", "fmt"), [("kita", "text"), ("it", "pdf")])
def test_results_match_process_cv(pool, key, fmt):
    person = sample(key).person
    kwargs = {"known_names": [person.name], "known_emails": iter([person.email])}  # any iterable
    expected = process_cv(rendered(key, fmt), MAX, known_names=[person.name], known_emails=[person.email])
    assert pool.process(rendered(key, fmt), MAX, **kwargs) == expected
    assert expected.draft.work_history


@pytest.mark.parametrize("data, max_bytes", [
    (OLE_MAGIC + b"\0" * 600, MAX),  # a .doc
    (b"{\\rtf1 Lebenslauf Lena}", MAX),
    (b"  \n ", MAX),  # empty
    (b"%PDF-1.7 broken " * 10, MAX),
    (b"x" * 2048, 1024),  # too large
])
def test_cv_errors_come_back_with_their_class_and_message(pool, data, max_bytes):
    with pytest.raises((CvUnsupported, CvUnreadable, CvTooLarge)) as expected:
        process_cv(data, max_bytes)
    with pytest.raises(type(expected.value)) as got:
        pool.process(data, max_bytes)
    assert type(got.value) is type(expected.value)
    assert got.value.message == expected.value.message
    assert got.value.status == expected.value.status


def test_an_unexpected_error_answers_unreadable_without_details(pool):
    pid = ok(pool)
    error, *_ = raises(pool, b"boom")
    assert type(error) is CvUnreadable
    assert error.message == "the file could not be read"
    assert ok(pool) == pid  # a plain exception leaves the worker in use


def test_the_worker_runs_under_its_limits(pool):
    ok(pool)
    report = json.loads(pool.process(b"probe", MAX).anonymised_text)
    assert report == {"rlimit_as": MEMORY_MB * MIB, "ppid": os.getpid(), "sigint_ignored": True,
                      "sigint_blocked": True, "deathsig": signal.SIGKILL, "time_limit_s": TIME_LIMIT_S}


def test_a_stalled_job_is_killed_its_worker_replaced_and_a_second_caller_gets_503(pool):
    """Two callers send a stalling job to the one worker at once while another thread counts: whichever comes
    first is killed at the time limit, the other gets no worker within the queue wait; the server's threads run
    on meanwhile. (One test, not three sharing a fixture: xdist could run the scenario in two processes.)"""
    pid = ok(pool)
    ticks = 0
    done = threading.Event()

    def count() -> None:  # a tick per millisecond it gets to run
        nonlocal ticks
        while not done.wait(0.001):
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    try:
        with ThreadPoolExecutor(2) as threads:
            outcomes = list(threads.map(lambda _: raises(pool, b"stall"), range(2)))
        ticks_during = ticks
    finally:
        done.set()
        counter.join()
    (busy, busy_took, busy_ended), (timeout, took, timeout_ended) = sorted(
        outcomes, key=lambda outcome: not isinstance(outcome[0], CvBusy))

    assert type(timeout) is CvTimeout and timeout.status == 422
    assert timeout.message == "the file took too long to read (over 1 s)"
    assert TIME_LIMIT_S + GRACE_S <= took < TIME_LIMIT_S + GRACE_S + 5
    assert not psutil.pid_exists(pid)  # killed and reaped: no zombie
    assert ok(pool) != pid  # the next job runs in a fresh worker

    assert type(busy) is CvBusy and busy.status == 503 and busy.retry_after_s == 1
    assert busy_took >= QUEUE_WAIT_S
    assert busy_ended < timeout_ended  # it did not wait for the stalled job

    # over 1.3 s (up to 1,300 ticks; fewer on a busy machine); in-process, the regex would hold the GIL
    # throughout and the counter would not tick once
    assert ticks_during >= 10


def test_a_job_past_the_memory_limit_answers_422_and_the_worker_is_replaced(pool):
    pid = ok(pool)
    error, *_ = raises(pool, b"hog")
    assert type(error) is CvWorkerCrashed and error.status == 422
    assert error.message == "the file needs more memory than allowed"
    assert not psutil.pid_exists(pid)
    assert ok(pool) != pid


def test_a_worker_that_dies_answers_422_and_is_replaced(pool):
    pid = ok(pool)
    error, *_ = raises(pool, b"die")
    assert type(error) is CvWorkerCrashed and error.status == 422
    assert not psutil.pid_exists(pid)
    assert ok(pool) != pid


def test_concurrent_jobs_lazy_start_and_close(request):
    """The real process_cv, no start() before the first job, several threads at once; close() leaves nothing.

    Other pools of this process (the module's) are idle here: every test that kills a worker waits for its
    replacement, so their processes are among ``before``."""
    before = {c.pid for c in psutil.Process().children()}
    files = [rendered("kita", "text"), rendered("it", "pdf"), rendered("kita", "pdf"), rendered("it", "text")] * 2
    expected = [process_cv(f, MAX) for f in files]
    workers = CvWorkers(2, 20, 512, 30)
    request.addfinalizer(workers.close)  # should an assertion fail before close()
    with ThreadPoolExecutor(4) as threads:
        assert list(threads.map(lambda f: workers.process(f, MAX), files)) == expected
    assert workers.start() is workers
    pids = workers.pids()
    assert len(pids) == 2
    workers.close()
    workers.close()
    assert not any(psutil.pid_exists(pid) for pid in pids)
    after = psutil.Process().children()  # a zombie would be among them
    tracker = {c.pid for c in after if "resource_tracker" in command(c)}  # multiprocessing's, shared
    assert {c.pid for c in after} - before - tracker == set()
    with pytest.raises(CvBusy):
        workers.process(files[0], MAX)
    with pytest.raises(RuntimeError):
        workers.start()


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def test_from_settings():
    settings = SimpleNamespace(cv_workers=3, cv_time_limit_s=12.5, cv_memory_mb=640, cv_queue_wait_s=4.0)
    workers = CvWorkers.from_settings(settings)  # type: ignore[arg-type]
    assert (workers.size, workers.time_limit_s, workers.memory_mb, workers.queue_wait_s) == (3, 12.5, 640, 4.0)
    assert workers.retry_after_s == 13
    assert workers.pids() == []
    workers.close()
