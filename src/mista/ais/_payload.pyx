# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled AIS payload core: 6-bit armour -> bits -> field values, with no Python
object per message on the bulk path.

The field extraction is straight-line C per message type, generated from ``fields.py``
into ``_payload_types.h`` (``python -m mista.ais.payload``); the op table ``payload.py``
builds from the same rows tells the dict path each slot's name and kind. ``decode_row`` is
the one core both paths use: ``decode_bulk`` writes its output into one int32 matrix per
message type (text and data as (start, length) spans into a shared byte arena) plus the
common columns, ``decode_one`` turns it into a gpsd-ordered dict.
"""

from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t, int16_t, int32_t, INT32_MIN
from libc.string cimport memset
cimport cython

import numpy as np

# Field kinds: same order as fields.KINDS.
cdef enum:
    K_UINT = 0
    K_INT = 1
    K_BOOL = 2
    K_UDEC = 3
    K_SDEC = 4
    K_LAT = 5
    K_LON = 6
    K_TEXT = 7
    K_DATA = 8
    K_TURN = 9
    K_ETA = 10
    K_TS = 11
    K_LABEL = 12

# Status codes: same order as payload.REASONS (0 = decoded).
cdef enum:
    OK = 0
    UNKNOWN_TYPE = 1
    BAD_LENGTH = 2
    BAD_CHARACTER = 3
    BAD_FILL = 4
    OUT_OF_RANGE = 5

# Op table columns (the dict path reads kind and slot; the generated C has the rest built in).
cdef enum:
    C_KIND = 0
    C_OFFSET = 1
    C_WIDTH = 2
    C_SLOT = 3
    C_COND = 4
    C_CONDVAL = 5
    C_LIMIT = 6
    C_NA = 7
    C_CONDW = 8
    C_CGROUP = 9  # common column group: 0 none, 1 int64, 2 float64, 3 text span
    C_CROW = 10  # its row in the common int64 / float64 matrix (text: start; +1: length)
    C_CVALID = 11  # its row in the common validity matrix
    NCOLS = 12

cdef enum:
    MAX_TYPES = 64
    MAX_OPS = 1024
    # 8192 bits: far above the 5-slot maximum (1064 bits); only garbage is refused for size
    MAX_BYTES = 1024
    PAD = 80

# int32 slots halve the memory the bulk path writes (and its page faults)
cdef int32_t ABSENT = INT32_MIN

cdef uint8_t ARMOUR[256]
cdef int32_t OPS[MAX_OPS][NCOLS]
cdef int32_t TYPE_START[MAX_TYPES]
cdef int32_t TYPE_NOPS[MAX_TYPES]
cdef int32_t TYPE_NSLOTS[MAX_TYPES]
cdef int32_t MIN_BITS[MAX_TYPES]
cdef int32_t MAX_BITS[MAX_TYPES]
cdef bint CONFIGURED = False


cdef void _init_armour() noexcept:
    cdef int c
    for c in range(256):
        ARMOUR[c] = 0xFF
    for c in range(48, 88):
        ARMOUR[c] = c - 48
    for c in range(96, 120):
        ARMOUR[c] = c - 56


_init_armour()


def configure(int32_t[:, ::1] ops, int32_t[::1] type_start, int32_t[::1] type_nops,
              int32_t[::1] type_nslots, int32_t[::1] min_bits, int32_t[::1] max_bits) -> None:
    """Load the op table built by ``payload.py`` from ``fields.py``."""
    global CONFIGURED
    cdef Py_ssize_t i, j
    if ops.shape[0] > MAX_OPS or ops.shape[1] != NCOLS or type_start.shape[0] != MAX_TYPES:
        raise ValueError("op table does not fit the compiled core")
    for i in range(ops.shape[0]):
        for j in range(NCOLS):
            OPS[i][j] = ops[i, j]
    for i in range(MAX_TYPES):
        TYPE_START[i] = type_start[i]
        TYPE_NOPS[i] = type_nops[i]
        TYPE_NSLOTS[i] = type_nslots[i]
        MIN_BITS[i] = min_bits[i]
        MAX_BITS[i] = max_bits[i]
    CONFIGURED = True


cdef extern from "_payload_types.h" nogil:
    # generated from fields.py by ``python -m mista.ais.payload``
    uint64_t mista_load_be64(const uint8_t* p)
    int mista_decode_type(int t, const uint8_t* buf, int64_t nbits, int32_t* out,
                          int64_t stride, uint8_t* arena, int64_t* pos, int* bad_op,
                          int64_t* bad_raw, int32_t* ti, double* tf, uint32_t* mask)


cdef inline uint64_t _bits(const uint8_t* buf, Py_ssize_t off, int width) noexcept nogil:
    """``width`` (<= 56) bits from bit ``off`` of the big-endian buffer ``buf``."""
    cdef uint64_t w = mista_load_be64(buf + (off >> 3))
    if width == 0:
        return 0
    return (w << (off & 7)) >> (64 - width)


cdef int _unpack(const uint8_t* chars, Py_ssize_t n, int fill, uint8_t* buf,
                 Py_ssize_t* nbits_out) noexcept nogil:
    """Armoured chars -> big-endian bit buffer (zero past the last bit). Returns a status."""
    cdef Py_ssize_t i, nb = 0
    cdef uint64_t acc = 0
    cdef int nacc = 0
    cdef uint8_t v
    cdef Py_ssize_t nbits
    if fill < 0 or fill > 5 or (n == 0 and fill != 0):
        return BAD_FILL
    if n * 6 > MAX_BYTES * 8 - 8 * PAD:
        return BAD_LENGTH
    cdef uint32_t a, b, c, d
    i = 0
    # four chars (24 bits) -> three bytes; 0xFF (not armour) sets the high bits
    while i + 4 <= n:
        a = ARMOUR[chars[i]]
        b = ARMOUR[chars[i + 1]]
        c = ARMOUR[chars[i + 2]]
        d = ARMOUR[chars[i + 3]]
        if (a | b | c | d) & 0xC0:
            return BAD_CHARACTER
        a = (a << 18) | (b << 12) | (c << 6) | d
        buf[nb] = <uint8_t>(a >> 16)
        buf[nb + 1] = <uint8_t>(a >> 8)
        buf[nb + 2] = <uint8_t>a
        nb += 3
        i += 4
    while i < n:
        v = ARMOUR[chars[i]]
        i += 1
        if v == 0xFF:
            return BAD_CHARACTER
        acc = (acc << 6) | v
        nacc += 6
        if nacc >= 8:
            nacc -= 8
            buf[nb] = <uint8_t>(acc >> nacc)
            nb += 1
    if nacc:
        buf[nb] = <uint8_t>(acc << (8 - nacc))
        nb += 1
    nbits = n * 6 - fill
    # the fill bits and everything after them read as zero, as in gpsd's zeroed buffer
    if nbits & 7:
        buf[nbits >> 3] &= <uint8_t>(0xFF << (8 - (nbits & 7)))
        memset(buf + (nbits >> 3) + 1, 0, PAD)
    else:
        memset(buf + (nbits >> 3), 0, PAD)
    nbits_out[0] = nbits
    return OK


cdef int decode_row(const uint8_t* chars, Py_ssize_t n, int fill, int32_t* out,
                    Py_ssize_t stride, uint8_t* arena, int64_t* arena_pos, int* msgtype,
                    int* bad_op, int64_t* bad_raw, int32_t* ti, double* tf,
                    uint32_t* mask) noexcept nogil:
    """Decode one message into ``out`` (the type's slots). Returns a status code.

    Slot ``s`` is written at ``out[s * stride]`` (column-major in the bulk path). Text and
    data are written at ``arena[arena_pos]`` and recorded as (start, length); the shared
    columns go to ``ti``/``tf`` with their presence bits in ``mask``."""
    cdef uint8_t buf[MAX_BYTES]
    cdef Py_ssize_t nbits = 0
    cdef int status, t
    cdef int64_t pos
    status = _unpack(chars, n, fill, buf, &nbits)
    if status != OK:
        return status
    if nbits < 6:
        return BAD_LENGTH
    t = <int>_bits(buf, 0, 6)
    msgtype[0] = t
    if TYPE_NOPS[t] == 0:
        return UNKNOWN_TYPE
    if nbits < MIN_BITS[t] or nbits > MAX_BITS[t]:
        return BAD_LENGTH
    if t == 27 and nbits != 96 and nbits != 168:
        # gpsd takes a long-range report of 96 bits, or one padded to a full slot (168)
        return BAD_LENGTH
    pos = arena_pos[0]
    status = mista_decode_type(t, buf, nbits, out, stride, arena, &pos, bad_op, bad_raw, ti,
                               tf, mask)
    if status == OK:
        arena_pos[0] = pos
    return status


cdef enum:
    TILE = 128  # rows of common values gathered row-major in cache, then written per column
    MAX_COMMON = 32


cdef void _flush_tile(const int32_t* ti, const double* tf, const uint32_t* tm,
                      Py_ssize_t rows, Py_ssize_t first, int32_t* ci, double* cf, uint8_t* cv,
                      Py_ssize_t n, Py_ssize_t nbytes, int ni, int nf, int nv) noexcept nogil:
    """Write ``rows`` tile rows to the column-major common matrices from row ``first``
    (a multiple of 8), and their presence bits to the columns' Arrow validity bitmaps."""
    cdef int c, j
    cdef Py_ssize_t r
    cdef uint8_t byte
    # eight rows' presence bits per byte, branch-free (rows past the end have zero masks)
    for r in range(0, rows, 8):
        for c in range(nv):
            byte = 0
            for j in range(8):
                byte |= <uint8_t>(((tm[r + j] >> c) & 1) << j)
            cv[c * nbytes + ((first + r) >> 3)] = byte
    for c in range(ni):
        for r in range(rows):
            ci[c * n + first + r] = ti[r * MAX_COMMON + c]
    for c in range(nf):
        for r in range(rows):
            cf[c * n + first + r] = tf[r * MAX_COMMON + c]


def decode_bulk(const uint8_t[::1] payload, const int64_t[::1] offsets,
                const uint8_t[::1] fill_bits, int n_common_int, int n_common_float,
                int n_common_valid):
    """Decode every message; returns per-row status and per-type value matrices.

    Returns ``(status, types, bad_op, bad_raw, tables, arena, common)`` where ``tables`` maps
    a type to ``(rows, values)`` (int64 arrays; ``values[slot]`` is one slot for every row)
    and ``common`` is ``(ints, floats, valid)``: the shared columns for the decoded rows in
    input order (rows as configured by the op table's common columns; ``valid[k]`` is common
    column k's Arrow validity bitmap)."""
    if not CONFIGURED:
        raise RuntimeError("mista.ais._payload.configure() was not called")
    cdef Py_ssize_t n = offsets.shape[0] - 1
    if n < 0 or fill_bits.shape[0] != n:
        raise ValueError(f"offsets must have n+1 entries and fill_bits n ({fill_bits.shape[0]})")
    if n > 0 and (offsets[0] < 0 or offsets[n] > payload.shape[0]):
        raise ValueError("offsets point outside the payload buffer")
    cdef Py_ssize_t i, j, a, b, total = payload.shape[0]
    for i in range(n):
        if offsets[i + 1] < offsets[i]:
            raise ValueError(f"offsets must not decrease (row {i})")
    status_arr = np.zeros(n, dtype=np.uint8)
    types_arr = np.full(n, -1, dtype=np.int16)
    badop_arr = np.full(n, -1, dtype=np.int32)
    badraw_arr = np.zeros(n, dtype=np.int64)
    cdef uint8_t[::1] status = status_arr
    cdef int16_t[::1] types = types_arr
    cdef int32_t[::1] badop = badop_arr
    cdef int64_t[::1] badraw = badraw_arr
    cdef Py_ssize_t counts[MAX_TYPES]
    cdef int32_t* base[MAX_TYPES]
    cdef int64_t* rowbase[MAX_TYPES]
    cdef Py_ssize_t filled[MAX_TYPES]
    cdef const uint8_t* src = &payload[0] if total > 0 else NULL
    cdef uint8_t empty = 0
    cdef int t, st, bop
    cdef int64_t braw
    cdef uint8_t v
    cdef const uint8_t* p
    cdef uint8_t first
    cdef int32_t scratch[256]
    memset(counts, 0, sizeof(counts))
    memset(filled, 0, sizeof(filled))
    # pass 1: type of each row (for the per-type allocation), from its first char
    for i in range(n):
        a = offsets[i]
        b = offsets[i + 1]
        if b > a:
            v = ARMOUR[src[a]]
            if v != 0xFF and v < MAX_TYPES:
                t = v
                if TYPE_NOPS[t] != 0:
                    counts[t] += 1
    tables = {}
    keep = []
    cdef int32_t[:, ::1] mat
    cdef int64_t[::1] rowv
    for t in range(MAX_TYPES):
        base[t] = NULL
        rowbase[t] = NULL
        if counts[t] > 0:
            vals = np.empty((max(TYPE_NSLOTS[t], 1), counts[t]), dtype=np.int32)
            rows = np.empty(counts[t], dtype=np.int64)
            mat = vals
            rowv = rows
            base[t] = &mat[0, 0]
            rowbase[t] = &rowv[0]
            tables[t] = (rows, vals)
    # text never takes more bytes than its bits' 6-bit chars; hex data at most 1.5x + prefix
    arena_arr = np.empty(2 * total + 16 * n + 64, dtype=np.uint8)
    cdef uint8_t[::1] arena_v = arena_arr
    cdef uint8_t* arena = &arena_v[0]
    cdef int64_t arena_pos = 0
    cdef int32_t* out
    cdef Py_ssize_t stride
    # values under a zero validity byte are never read: no need to clear them
    if n_common_int > MAX_COMMON or n_common_float > MAX_COMMON or n_common_valid > 32:
        raise ValueError("too many common columns for the compiled core")
    cints_arr = np.empty((n_common_int, max(n, 1)), dtype=np.int32)
    cfloats_arr = np.empty((n_common_float, max(n, 1)), dtype=np.float64)
    # one Arrow validity bitmap (LSB first) per common column
    cdef Py_ssize_t nbytes = (n + 7) // 8 + 1
    cvalid_arr = np.zeros((n_common_valid, nbytes), dtype=np.uint8)
    cdef Py_ssize_t nc = n
    cdef int32_t[:, ::1] cints = cints_arr
    cdef double[:, ::1] cfloats = cfloats_arr
    cdef uint8_t[:, ::1] cvalid = cvalid_arr
    cdef int32_t* ci = &cints[0, 0] if n_common_int > 0 else NULL
    cdef double* cf = &cfloats[0, 0] if n_common_float > 0 else NULL
    cdef uint8_t* cv = &cvalid[0, 0] if n_common_valid > 0 else NULL
    cdef uint32_t tile_m[TILE + 8]
    cdef int32_t tile_i[TILE * MAX_COMMON]
    cdef double tile_f[TILE * MAX_COMMON]
    cdef Py_ssize_t ok_rows = 0, tile_rows = 0
    with nogil:
        for i in range(n):
            a = offsets[i]
            b = offsets[i + 1]
            p = src + a if b > a else &empty
            t = -1
            if b > a:
                v = ARMOUR[src[a]]
                if v != 0xFF:
                    t = v
            if t >= 0 and base[t] != NULL:
                # column-major: each slot is a contiguous column (zero-copy into Arrow)
                out = base[t] + filled[t]
                stride = counts[t]
            else:
                out = scratch
                stride = 1
            t = -1
            bop = -1
            braw = 0
            st = decode_row(p, b - a, fill_bits[i], out, stride, arena, &arena_pos, &t, &bop,
                            &braw, tile_i + tile_rows * MAX_COMMON,
                            tile_f + tile_rows * MAX_COMMON, tile_m + tile_rows)
            status[i] = st
            types[i] = t
            if st == OK:
                rowbase[t][filled[t]] = i
                tile_rows += 1
                ok_rows += 1
                if tile_rows == TILE:
                    _flush_tile(tile_i, tile_f, tile_m, TILE, ok_rows - TILE, ci, cf, cv, nc,
                                nbytes, n_common_int, n_common_float, n_common_valid)
                    tile_rows = 0
                filled[t] += 1
            elif st == OUT_OF_RANGE:
                badop[i] = bop
                badraw[i] = braw
    if tile_rows:
        memset(&tile_m[tile_rows], 0, (TILE + 8 - tile_rows) * sizeof(uint32_t))
        _flush_tile(tile_i, tile_f, tile_m, tile_rows, ok_rows - tile_rows, ci, cf, cv, nc,
                    nbytes, n_common_int, n_common_float, n_common_valid)
    for t in list(tables):
        rows, vals = tables[t]
        if filled[t] == 0:
            del tables[t]
        elif filled[t] < counts[t]:
            tables[t] = (rows[: filled[t]], vals[:, : filled[t]])
    common = (cints_arr[:, :ok_rows], cfloats_arr[:, :ok_rows], cvalid_arr)
    return status_arr, types_arr, badop_arr, badraw_arr, tables, arena_arr[:arena_pos], common


# --- per message -----------------------------------------------------------------------

cdef list NAMES = []       # per op: field name
cdef list SCALES = []      # per op: divisor (float)
cdef list LABELS = []      # per op: label tuple or None
cdef list SOURCES = []     # per op: slot of the labelled field


def configure_names(list names, list scales, list labels, list sources) -> None:
    """Python-side op metadata for the dict path (names, scales, label tables)."""
    global NAMES, SCALES, LABELS, SOURCES
    NAMES = names
    SCALES = scales
    LABELS = labels
    SOURCES = sources


cdef object _turn(int64_t raw):
    if raw == -128:
        return "nan"
    if raw == -127:
        return "fastleft"
    if raw == 127:
        return "fastright"
    cdef double r = raw / 4.733
    return r * r if raw >= 0 else -(r * r)


cdef str _two(int64_t v):
    return str(v) if v >= 10 else "0" + str(v)


cdef str _eta(int64_t raw):
    return (f"{_two((raw >> 16) & 15)}-{_two((raw >> 11) & 31)}"
            f"T{_two((raw >> 6) & 31)}:{_two(raw & 63)}Z")


cdef str _timestamp(int64_t raw):
    cdef int64_t y = (raw >> 26) & 16383
    return (f"{y:04d}-{_two((raw >> 22) & 15)}-{_two((raw >> 17) & 31)}"
            f"T{_two((raw >> 12) & 31)}:{_two((raw >> 6) & 63)}:{_two(raw & 63)}Z")


def decode_one(const uint8_t[::1] chars, int fill):
    """One message -> ``(status, type, bad_op, bad_raw, dict | None)``."""
    if not CONFIGURED:
        raise RuntimeError("mista.ais._payload.configure() was not called")
    cdef int32_t out[256]
    cdef uint8_t arena[4096]
    cdef int64_t arena_pos = 0
    cdef int32_t ti[MAX_COMMON]
    cdef double tf[MAX_COMMON]
    cdef uint32_t mask = 0
    cdef int t = -1, bop = -1, st, i, kind, slot, first
    cdef int64_t braw = 0, raw
    cdef uint8_t zero = 0
    cdef Py_ssize_t n = chars.shape[0]
    if n > 1300:
        return BAD_LENGTH, -1, -1, 0, None
    st = decode_row(&chars[0] if n > 0 else &zero, n, fill, out, 1, arena, &arena_pos,
                    &t, &bop, &braw, ti, tf, &mask)
    if st != OK:
        return st, t, bop, braw, None
    cdef dict d = {}
    first = TYPE_START[t]
    for i in range(first, first + TYPE_NOPS[t]):
        kind = OPS[i][C_KIND]
        slot = OPS[i][C_SLOT]
        if kind == K_LABEL:
            raw = out[<int>SOURCES[i]]
            if raw != ABSENT:
                d[NAMES[i]] = LABELS[i][raw]
            continue
        raw = out[slot]
        if raw == ABSENT:
            continue
        if kind == K_UINT or kind == K_INT:
            d[NAMES[i]] = raw
        elif kind == K_BOOL:
            d[NAMES[i]] = raw != 0
        elif kind == K_TEXT or kind == K_DATA:
            d[NAMES[i]] = (<char*>arena)[raw: raw + out[slot + 1]].decode("ascii")
        elif kind == K_TURN:
            d[NAMES[i]] = _turn(raw)
        elif kind == K_ETA:
            d[NAMES[i]] = _eta(raw)
        elif kind == K_TS:
            d[NAMES[i]] = _timestamp((raw << 17) | out[slot + 1])
        else:
            d[NAMES[i]] = raw / <double>SCALES[i]
    return OK, t, -1, 0, d
