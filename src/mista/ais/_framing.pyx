# cython: language_level=3
"""Compiled core of :mod:`mista.ais.framing`: a thin wrapper over ``_framing_core.h``.

The C core does all per-line work without Python objects; this module only moves the
batch buffers out as ``bytes`` (one copy per column per batch) and turns the rare
rejections and skip counts into Python values. :mod:`mista.ais.framing` builds the
numpy / Arrow arrays from them.
"""

import gc

from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc
from cpython.buffer cimport PyBuffer_FillInfo
from cpython.bytes cimport PyBytes_FromStringAndSize


cdef extern from "_framing_core.h":
    int FR_MAX_LINE
    int R_NCODES
    int K_NFIXED

    ctypedef struct fbuf:
        char *p
        size_t n, cap

    ctypedef struct fr_reject:
        int64_t line_no
        int32_t reason
        size_t detail_off, detail_len, raw_off, raw_len

    ctypedef struct fr_kind:
        char addr[12]
        int len
        int64_t count

    ctypedef struct framer_t:
        int oom
        int64_t nmsg, batch_lines, nrej
        fbuf payload, offsets, fill, line, time, own
        fbuf recv_data, recv_off, recv_valid
        fbuf raw_data, raw_off
        fbuf talker
        fbuf chan_data, chan_off, chan_valid
        fbuf rejects, rej_text
        int64_t kinds_fixed[5]
        fr_kind kinds[64]
        int nkinds

    framer_t *fr_new(int max_pending) nogil
    void fr_free(framer_t *f) nogil
    void fr_batch_reset(framer_t *f) nogil
    void fr_feed(framer_t *f, const unsigned char *d, size_t n) nogil
    void fr_finish(framer_t *f) nogil


#: Reason codes in the order of the C enum (R_CHECKSUM ...).
REASONS = (
    "checksum",
    "malformed",
    "tag-block",
    "incomplete-multipart",
    "orphan-fragment",
    "too-long",
)
#: Skip kinds in the order of the C enum (K_BLANK ...).
FIXED_KINDS = ("blank", "comment", "text", "tag-block", "nmea:other")
MAX_LINE_BYTES = FR_MAX_LINE


cdef inline bytes _take(fbuf *b):
    return PyBytes_FromStringAndSize(b.p, <Py_ssize_t>b.n)


cdef class Block:
    """A read-only buffer handed over from the core without copying (freed with it)."""

    cdef char *p
    cdef Py_ssize_t n

    def __getbuffer__(self, Py_buffer *view, int flags):
        PyBuffer_FillInfo(view, self, self.p, self.n, 1, flags)

    def __releasebuffer__(self, Py_buffer *view):
        pass

    def __len__(self):
        return self.n

    def __dealloc__(self):
        free(self.p)
        self.p = NULL


cdef Block _give(fbuf *b):
    """Hand the buffer over and give the core a fresh one of the same capacity (its pages
    are only touched when written, so this costs no copy)."""
    cdef Block out = Block.__new__(Block)
    cdef size_t cap = b.cap if b.cap else 256
    cdef char *fresh
    if b.p == NULL:  # never written: hand over an empty, valid allocation
        b.p = <char *>malloc(1)
        if b.p == NULL:
            raise MemoryError("framing ran out of memory")
        b.n = 0
    fresh = <char *>malloc(cap)
    if fresh == NULL:
        raise MemoryError("framing ran out of memory")
    out.p = b.p
    out.n = <Py_ssize_t>b.n
    b.p = fresh
    b.cap = cap
    b.n = 0
    return out


cdef class Core:
    """Framing state machine; ``feed``/``finish`` return the batch as a tuple of buffers."""

    cdef framer_t *f
    cdef object reject_type  # a tuple subclass of four fields (framing.FramingReject)
    cdef bint busy  # feed() runs without the GIL: a second thread must not enter

    def __cinit__(self, int max_pending, object reject_type=tuple):
        # every sentence may scan all open groups: keep the bound small
        if max_pending < 1 or max_pending > 1024:
            raise ValueError(f"max_pending_sentences must be within 1..1024, not {max_pending}")
        self.reject_type = reject_type
        self.f = fr_new(max_pending)
        if self.f == NULL:
            raise MemoryError("cannot allocate the framing state")

    def __dealloc__(self):
        fr_free(self.f)
        self.f = NULL

    def feed(self, const unsigned char[::1] chunk not None):
        cdef size_t n = chunk.shape[0]
        self._enter()
        try:
            if n:
                with nogil:
                    fr_feed(self.f, &chunk[0], n)
            return self._batch()
        finally:
            self.busy = False

    def finish(self):
        self._enter()
        try:
            fr_finish(self.f)
            return self._batch()
        finally:
            self.busy = False

    cdef void _enter(self) except *:
        if self.busy:
            raise RuntimeError("a Framer is in use by another thread; use one per thread")
        self.busy = True

    cdef tuple _batch(self):
        cdef framer_t *f = self.f
        cdef Py_ssize_t i
        cdef fr_reject *r
        if f.oom:
            f.oom = 0
            fr_batch_reset(f)
            raise MemoryError("framing ran out of memory")
        try:
            rejects = []
            text = _take(&f.rej_text)
            cls = self.reject_type
            # many rejects (hostile input) would trigger a garbage collection every few
            # hundred tuples; these tuples hold no cycles
            gc_was_on = f.nrej > 1000 and gc.isenabled()
            if gc_was_on:
                gc.disable()
            try:
                for i in range(f.nrej):
                    r = (<fr_reject *>f.rejects.p) + i
                    rejects.append(
                        tuple.__new__(cls, (
                            r.line_no,
                            REASONS[r.reason],
                            text[r.detail_off:r.detail_off + r.detail_len].decode("ascii", "replace"),
                            text[r.raw_off:r.raw_off + r.raw_len].decode("utf-8", "backslashreplace"),
                        ))
                    )
            finally:
                if gc_was_on:
                    gc.enable()
            skipped = {}
            for i in range(5):
                if f.kinds_fixed[i]:
                    skipped[FIXED_KINDS[i]] = f.kinds_fixed[i]
            for i in range(f.nkinds):
                key = "nmea:" + f.kinds[i].addr[:f.kinds[i].len].decode("ascii")
                skipped[key] = skipped.get(key, 0) + f.kinds[i].count
            out = (
                f.nmsg,
                _take(&f.payload),
                _give(&f.offsets),
                _give(&f.fill),
                _give(&f.line),
                _give(&f.time),
                _give(&f.own),
                _give(&f.recv_data),
                _give(&f.recv_off),
                _give(&f.recv_valid),
                _give(&f.raw_data),
                _give(&f.raw_off),
                _give(&f.talker),
                _give(&f.chan_data),
                _give(&f.chan_off),
                _give(&f.chan_valid),
                rejects,
                skipped,
                f.batch_lines,
            )
            return out
        finally:
            # whatever happened, the next batch starts empty
            fr_batch_reset(f)
