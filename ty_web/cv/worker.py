"""Run :func:`ty_web.cv.process_cv` in worker processes, each upload under a hard wall-clock and memory limit.

The web process never parses an upload itself: a hostile file (a regex that backtracks while holding the GIL,
a PDF that inflates into gigabytes) stalls or bloats a worker, never the FastAPI process. :class:`CvWorkers`
keeps ``size`` long-lived processes, started with the ``spawn`` method (the parent is a threaded server, so
never a plain fork), each importing ``ty_web.cv`` once and serving one upload at a time over a pipe.

Per upload, the parent (any request thread) takes a free worker, waiting at most ``queue_wait_s`` for one
(else :class:`CvBusy`, 503), sends the file, and waits for the answer at most ``time_limit_s`` plus a grace:
``process_cv`` gets ``time_limit_s`` too, so its own checks normally answer first. Past the grace the worker
is SIGKILLed, reaped and replaced (:class:`CvTimeout`, 422). A worker runs under ``RLIMIT_AS`` of
``memory_mb``: a ``MemoryError`` answers :class:`CvWorkerCrashed` (422) and the worker is replaced (its heap
may be fragmented), as is a worker that dies. The :class:`CvError` subclasses that ``process_cv`` raises come
back as the same class and message; any other exception is logged in the worker and answers
:class:`CvUnreadable` ("the file could not be read"), never a traceback.

Answers travel as JSON and are validated in the parent (no unpickling of what a worker produced after reading
an untrusted file). Workers block and ignore SIGINT (the parent's Ctrl-C prints no worker tracebacks, not even
during their imports) and die with the parent: ``PR_SET_PDEATHSIG`` on Linux, tied to the one long-lived thread
of the parent that spawns every worker (the signal follows the spawning *thread*, so request threads, which come
and go, never spawn), elsewhere a thread that watches ``os.getppid()``.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import math
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ty_web.cv import CvDraft, CvError, CvResult, CvUnreadable, process_cv

if TYPE_CHECKING:
    from ty_resources.settings import Settings

__all__ = ["KILL_GRACE_S", "CvBusy", "CvTimeout", "CvWorkerCrashed", "CvWorkers"]

log = logging.getLogger("ty.web.cv.worker")

KILL_GRACE_S = 2.0  # past time_limit_s: process_cv's own time checks answer first; the kill is the backstop
STARTUP_TIMEOUT_S = 60.0  # a worker that is not ready by then (imports) is replaced
MAX_REPLY_BYTES = 64 * 1024 * 1024  # an answer is at most ~200,000 characters of text and a small draft
WARM_MODULES = ("pypdf", "docx")  # imported lazily by ty_web.cv.extract: loaded before the first upload
PR_SET_PDEATHSIG = 1
PR_GET_PDEATHSIG = 2

Job = Callable[..., CvResult]  # process_cv's signature
_CTX = multiprocessing.get_context("spawn")


class CvBusy(CvError):
    """No CV worker became free within ``queue_wait_s`` (or they are shutting down): 503 with Retry-After."""

    status = 503

    def __init__(self, message: str, retry_after_s: int = 1):
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.message, self.retry_after_s)


class CvTimeout(CvUnreadable):
    """Reading the file ran past the wall-clock limit; the worker was killed (422)."""


class CvWorkerCrashed(CvUnreadable):
    """The worker ran out of memory (or died) while reading the file; it was replaced (422)."""


class _Closed(Exception):
    """A worker was asked for after :meth:`CvWorkers.close`."""


# ------------------------------------------------------------------ the worker process


def _serve(conn: Connection, parent_pid: int, memory_mb: int, time_limit_s: float, job: Job) -> None:
    """A worker's life: set up, say ready, then answer one job after another until EOF or ``None``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s cv-worker[%(process)d] %(name)s: %(message)s")
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - both are dependencies
            pass
    _limit_memory(memory_mb)
    conn.send_bytes(json.dumps({"ready": os.getpid()}).encode())
    while True:
        try:
            message = conn.recv()  # from the parent: trusted
        except (EOFError, OSError):
            return
        if message is None:
            return
        data, max_bytes, names, emails = message
        answer, stop = _answer(job, data, max_bytes, names, emails, time_limit_s)
        del data, message
        try:
            conn.send_bytes(answer)
        except OSError:
            return
        if stop:
            return


def _answer(job: Job, data: bytes, max_bytes: int, names: tuple[str, ...], emails: tuple[str, ...],
            time_limit_s: float) -> tuple[bytes, bool]:
    """The JSON answer to one job, and whether the worker should stop after sending it."""
    try:
        result = job(data, max_bytes, known_names=names, known_emails=emails, time_limit_s=time_limit_s)
        reply: dict[str, Any] = {"ok": {"kind": result.kind, "text": result.anonymised_text,
                                        "draft": result.draft.model_dump(mode="json"), "removed": result.removed}}
    except CvError as e:
        reply = {"error": f"{type(e).__module__}.{type(e).__qualname__}", "message": e.message}
    except MemoryError:
        return b'{"memory": true}', True  # the heap may be fragmented: a fresh worker takes the next job
    except Exception:
        log.exception("unexpected error while reading a CV upload")
        reply = {"failed": True}
    try:
        return json.dumps(reply).encode(), False
    except MemoryError:
        return b'{"memory": true}', True


def _die_with_parent(parent_pid: int) -> None:
    """Exit when the parent process dies: PR_SET_PDEATHSIG on Linux, else a thread polling ``os.getppid()``."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent_pid:  # it died before prctl
                    os._exit(0)
                return
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass

    def watch() -> None:  # pragma: no cover - not Linux; cannot run while a job holds the GIL
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="cv-parent-watch", daemon=True).start()


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        log.warning("no memory limit for CV workers on this platform")
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError) as e:  # pragma: no cover - e.g. macOS refuses RLIMIT_AS
        log.warning("no memory limit for CV workers: %s", e)


# ------------------------------------------------------------------ the parent's side


class _Worker:
    """One worker process and the parent's end of its pipe; used by one request thread at a time."""

    def __init__(self, process: BaseProcess, conn: Connection):
        self.process = process
        self.conn = conn
        self.pid: int = process.pid or 0
        self.ready = False
        self._lock = threading.Lock()  # close() and the request thread may both discard it

    def discard(self, *, close_conn: bool = True) -> int | None:
        """SIGKILL (if still running) and reap; returns the exit code. Idempotent.

        ``close_conn``: only by the thread that owns the worker (another may be reading from it)."""
        with self._lock:
            if self.process.exitcode is None:
                self.process.kill()
            self.process.join(timeout=10)
            if self.process.exitcode is None:  # pragma: no cover - stuck in the kernel (D state)
                log.error("CV worker %d did not exit after SIGKILL", self.pid)
            if close_conn:
                self.conn.close()
            return self.process.exitcode


class _Slot:
    """A place for one worker; whoever took the slot from the free queue owns it and its worker."""

    def __init__(self) -> None:
        self.worker: Future[_Worker] | None = None


class _Spawner(threading.Thread):
    """The one long-lived thread that starts every worker.

    Linux sends a worker its PR_SET_PDEATHSIG when the *thread* that spawned it ends, so workers must not be
    spawned by request threads (a thread pool retires idle threads). SIGINT is blocked here, and the blocked
    mask is inherited by the workers: a Ctrl-C aimed at the server's process group reaches none of them, not
    even while they import."""

    def __init__(self, spawn: Callable[[], _Worker]):
        super().__init__(name="cv-worker-spawner", daemon=True)
        self._spawn = spawn
        self._requests: queue.SimpleQueue[Future[_Worker] | None] = queue.SimpleQueue()

    def submit(self) -> Future[_Worker]:
        future: Future[_Worker] = Future()
        self._requests.put(future)
        return future

    def stop(self) -> None:
        self._requests.put(None)
        self.join()

    def run(self) -> None:
        while (future := self._requests.get()) is not None:
            if not future.set_running_or_notify_cancel():  # pragma: no cover - never cancelled
                continue
            try:
                if hasattr(signal, "pthread_sigmask"):
                    # Starting multiprocessing's resource tracker (once per process, on the first spawn)
                    # unblocks SIGINT in the calling thread: start it first, then block.
                    resource_tracker.ensure_running()
                    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                future.set_result(self._spawn())
            except BaseException as e:  # noqa: BLE001 - handed to the thread that waits for it
                future.set_exception(e)


class CvWorkers:
    """A pool of ``size`` CV worker processes; :meth:`process` is ``process_cv`` under hard limits.

    Thread-safe: many request threads may call :meth:`process` at once, at most ``size`` jobs run at once.
    ``_job`` replaces ``process_cv`` in the workers (tests only: a picklable module-level function).
    """

    def __init__(self, size: int, time_limit_s: float, memory_mb: int, queue_wait_s: float, *,
                 kill_grace_s: float = KILL_GRACE_S, _job: Job | None = None):
        if size < 1:
            raise ValueError("CvWorkers needs at least one worker")
        self.size = size
        self.time_limit_s = time_limit_s
        self.memory_mb = memory_mb
        self.queue_wait_s = queue_wait_s
        self.kill_grace_s = kill_grace_s
        self._job: Job = _job or process_cv
        self._lock = threading.Lock()
        self._slots = [_Slot() for _ in range(size)]
        self._free: queue.Queue[_Slot] = queue.Queue()
        for slot in self._slots:
            self._free.put(slot)
        self._live: dict[int, _Worker] = {}  # pid -> worker, every process started and not yet discarded
        self._spawner: _Spawner | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> CvWorkers:
        return cls(settings.cv_workers, settings.cv_time_limit_s, settings.cv_memory_mb, settings.cv_queue_wait_s)

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.time_limit_s))

    @property
    def idle(self) -> int:
        """Slots no request holds right now."""
        return self._free.qsize()

    def pids(self) -> list[int]:
        """The worker processes started and not yet discarded (some may still be importing)."""
        with self._lock:
            return sorted(self._live)

    def start(self) -> CvWorkers:
        """Start every worker in the background (the spawner thread); returns at once. Idempotent."""
        with self._lock:
            if self._closed:
                raise RuntimeError("CvWorkers is closed")
            if self._spawner is None:
                self._spawner = _Spawner(self._spawn)
                self._spawner.start()
                for slot in self._slots:
                    slot.worker = self._spawner.submit()
        return self

    def process(self, data: bytes, max_bytes: int, *, known_names: Iterable[str] = (),
                known_emails: Iterable[str] = ()) -> CvResult:
        """``process_cv(data, max_bytes, ...)`` in a worker; blocking (call it from a plain ``def`` endpoint).

        Raises what ``process_cv`` raises, :class:`CvTimeout` or :class:`CvWorkerCrashed` (422) and
        :class:`CvBusy` (503) when no worker is free within ``queue_wait_s``."""
        try:
            self.start()
        except RuntimeError:  # closed
            raise self._busy_closed() from None
        job = (bytes(data), max_bytes, tuple(known_names), tuple(known_emails))
        try:
            slot = self._free.get(timeout=self.queue_wait_s)
        except queue.Empty:
            raise CvBusy(f"all CV readers are busy: try again in {self.retry_after_s} s",
                         self.retry_after_s) from None
        try:
            return self._run(slot, job)
        finally:
            self._free.put(slot)

    def close(self) -> None:
        """Stop every worker (running jobs answer :class:`CvBusy`) and reap them. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            live = list(self._live.values())
            self._live.clear()
            spawner = self._spawner
        if spawner is not None:
            spawner.stop()  # spawns still queued fail with _Closed: nothing starts after this
        for worker in live:
            worker.discard(close_conn=False)  # a request thread may be reading: it sees EOF, answers CvBusy
        while True:  # the idle slots: nobody reads their pipes
            try:
                slot = self._free.get_nowait()
            except queue.Empty:
                break
            if slot.worker is not None and slot.worker.done() and slot.worker.exception() is None:
                slot.worker.result().conn.close()

    def __enter__(self) -> CvWorkers:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -------------------------------------------------------------- internals

    def _spawn(self) -> _Worker:
        """Start one worker (on the spawner thread)."""
        parent_conn, child_conn = _CTX.Pipe(duplex=True)
        process = _CTX.Process(target=_serve, name="ty-cv-worker", daemon=True,
                               args=(child_conn, os.getpid(), self.memory_mb, self.time_limit_s, self._job))
        try:
            with self._lock:
                if self._closed:
                    parent_conn.close()
                    raise _Closed
                started = time.perf_counter()
                process.start()
                worker = _Worker(process, parent_conn)
                self._live[worker.pid] = worker
        finally:
            child_conn.close()
        log.debug("CV worker %d spawned in %.3f s", worker.pid, time.perf_counter() - started)
        return worker

    def _replace(self, slot: _Slot, worker: _Worker) -> int | None:
        """Discard a worker and start its successor in the background (unless closed); the exit code."""
        with self._lock:
            self._live.pop(worker.pid, None)
            slot.worker = None if self._closed or self._spawner is None else self._spawner.submit()
        return worker.discard()

    def _busy_closed(self) -> CvBusy:
        return CvBusy("the CV reader is shutting down: try again shortly", self.retry_after_s)

    def _ready_worker(self, slot: _Slot) -> _Worker:
        """The slot's worker, started and ready (waits for its imports the first time)."""
        for _ in range(2):
            if self._closed:
                raise self._busy_closed()
            if slot.worker is None:
                with self._lock:
                    if self._closed or self._spawner is None:
                        raise self._busy_closed()
                    slot.worker = self._spawner.submit()
            try:
                worker = slot.worker.result(timeout=STARTUP_TIMEOUT_S)
            except _Closed:
                raise self._busy_closed() from None
            except FutureTimeout:  # pragma: no cover - the spawner is stuck: keep waiting on the next call
                raise CvBusy("the CV reader is starting: try again shortly", self.retry_after_s) from None
            except Exception:
                log.exception("could not start a CV worker")
                slot.worker = None
                raise CvBusy("the CV reader could not start: try again shortly", self.retry_after_s) from None
            if worker.ready and worker.process.is_alive():
                return worker
            if not worker.ready:
                try:
                    if worker.conn.poll(STARTUP_TIMEOUT_S):
                        hello = json.loads(worker.conn.recv_bytes(1024))
                        worker.ready = hello.get("ready") == worker.pid
                except (EOFError, OSError, ValueError):
                    pass
                if worker.ready:
                    return worker
                log.error("CV worker %d did not start (exit code %s)", worker.pid, self._replace(slot, worker))
            else:
                self._replace(slot, worker)  # died while idle: one more try
        raise CvBusy("the CV reader could not start: try again shortly", self.retry_after_s)

    def _run(self, slot: _Slot, job: tuple[bytes, int, tuple[str, ...], tuple[str, ...]]) -> CvResult:
        worker = self._ready_worker(slot)
        started = time.monotonic()
        try:
            worker.conn.send(job)
            if not worker.conn.poll(self.time_limit_s + self.kill_grace_s):
                self._replace(slot, worker)
                log.warning("CV worker %d killed: no answer after %.1f s", worker.pid, time.monotonic() - started)
                raise CvTimeout(f"the file took too long to read (over {self.time_limit_s:g} s)")
            raw = worker.conn.recv_bytes(MAX_REPLY_BYTES)
        except (EOFError, OSError):
            code = self._replace(slot, worker)
            if self._closed:
                raise self._busy_closed() from None
            log.warning("CV worker %d died while reading a file (exit code %s)", worker.pid, code)
            raise CvWorkerCrashed("the file needs more memory than allowed") from None
        try:
            answer = json.loads(raw)
        except ValueError:  # pragma: no cover - a worker writes JSON
            self._replace(slot, worker)
            raise CvUnreadable("the file could not be read") from None
        if "ok" in answer:
            ok = answer["ok"]
            return CvResult(ok["kind"], ok["text"], CvDraft.model_validate(ok["draft"]),
                            {str(k): int(v) for k, v in ok["removed"].items()})
        if "error" in answer:
            raise _error_class(answer["error"])(str(answer["message"]))
        if answer.get("memory"):
            self._replace(slot, worker)
            log.warning("CV worker %d ran out of memory (%d MiB) reading a file", worker.pid, self.memory_mb)
            raise CvWorkerCrashed("the file needs more memory than allowed")
        raise CvUnreadable("the file could not be read")  # logged in the worker


def _error_class(name: str) -> type[CvError]:
    """The CvError subclass named ``module.qualname`` by a worker; CvUnreadable for an unknown name."""
    todo: list[type[CvError]] = [CvError]
    while todo:
        cls = todo.pop()
        if f"{cls.__module__}.{cls.__qualname__}" == name:
            return cls
        todo.extend(cls.__subclasses__())
    return CvUnreadable
