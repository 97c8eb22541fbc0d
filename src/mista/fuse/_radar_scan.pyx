# cython: language_level=3
"""Compiled core of radar association: the tracklets, each radar's state (both described
in :mod:`mista.fuse.radar_tracklet`), the scan-by-scan loop of :mod:`mista.fuse.radar`
(continue tracklets, score them, assign them to AIS tracks, keep dark ones) and the AIS
track prediction that :mod:`mista.fuse.radar_gate` gates contacts against.

The arithmetic is the interpreted version's, operation for operation: expressions keep
their order (setup.py builds this module without floating-point contraction), rounding is
half to even as Python's ``round``, and grid cells use Python's float floor division, so
the same contacts land on the same tracks. Cheapest option first, ties to the earlier
one, and the Hungarian method (scipy) only when two contacts want one tracklet or track.
"""

from libc.math cimport INFINITY, M_PI, NAN, cos, floor, fmod, isfinite, isnan, pow, rint, sin, sqrt
from libc.stdint cimport int64_t, uint16_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memmove, memset
from cpython.bytes cimport PyBytes_FromStringAndSize

import numpy as np
from scipy.optimize import linear_sum_assignment

from ._kinematics import KNOT_M_S as _KNOT_M_S
from .chunk import Association

__all__ = [
    "CELL_DEG", "CLOSE_X", "M_PER_DEG", "RadarState", "Tracklet", "predict_track", "run_scans"
]

#: Metres per degree of latitude (and of longitude at the equator) on a local flat earth.
M_PER_DEG = 111_195.0

#: A contact this close to an AIS track (normalised squared distance, 1 sigma) times the
#: radar's period by the track's previous close contact.
CLOSE_X = 1.0
#: Free tracklets are found by grid cell (degrees): one cell is wider than any gate.
CELL_DEG = 0.05

cdef double _CLOSE_X = CLOSE_X
cdef double _CELL_DEG = CELL_DEG
#: Cell keys: row * _CELL_STRIDE + column (columns span -3600..3600).
cdef int64_t _CELL_STRIDE = 1 << 16
cdef double _KNOTS = _KNOT_M_S
cdef double _M_DEG = M_PER_DEG
cdef double _DEG_TO_RAD = M_PI / 180.0
#: How far (m/s of time since the last contact) a tracklet may stray from its line.
cdef double _MANOEUVRE_M_S = 2.0
#: Times between close contacts of one AIS track kept per radar, and needed before the
#: period is taken from them; their histogram's bin (s), and the longest period believed.
cdef enum:
    _GAP_SAMPLE = 1024
    _GAP_MIN_SAMPLE = 50
    _GAP_BINS = 2401  # _MAX_PERIOD_S / _GAP_BIN_S, and bin 0
cdef double _GAP_BIN_S = 0.25
cdef double _MAX_PERIOD_S = 600.0
#: Tracklets are checked for silence at most this often (s of data time).
cdef double _EXPIRE_EVERY_S = 30.0
#: Continuing a free tracklet costs this more than continuing one that follows an AIS
#: track (whose prediction is the AIS track's, far better than a line through contacts):
#: a contact of an AIS ship does not start a second chain beside its own.
cdef double _FREE_PENALTY = 2.0
#: Cost of an option a contact does not have, in the Hungarian method's matrix.
cdef double _NO_OPTION = 1e9
#: Scans of more contacts than this find two contacts wanting one option with a set.
cdef Py_ssize_t _SMALL_SCAN = 32


cdef inline int64_t _cell_index(double x) noexcept:
    """``int(x // CELL_DEG)`` as Python computes float floor division (through the exact
    ``fmod``), so a position near a cell border is filed in the same cell."""
    cdef double mod = fmod(x, _CELL_DEG)
    cdef double div = (x - mod) / _CELL_DEG
    cdef double whole
    if mod < 0.0:
        div -= 1.0
    if div == 0.0:
        return 0
    whole = floor(div)
    if div - whole > 0.5:
        whole += 1.0
    return <int64_t>whole


cdef inline int64_t _cell_of(double lat, double lon) noexcept:
    return _cell_index(lat) * _CELL_STRIDE + _cell_index(lon)


cdef inline bint _on_time(double dt, double period, double slack, double scan_s) noexcept:
    """Whether a target last reported ``dt`` ago can be reported again now: after its
    scan and, once the period is known, a whole number of periods (give or take
    ``slack``) later."""
    cdef double k
    if dt <= scan_s:
        return False
    if period <= 0.0:
        return True
    k = rint(dt / period)  # half to even, as round()
    return k >= 1.0 and abs(dt - k * period) <= slack


cdef struct _Contact:
    double t, lat, lon


cdef struct _Score:
    int64_t number
    double total


cdef class Tracklet:
    """Contacts of one radar target. The scores hold, per AIS track, the decayed sum of
    its normalised squared distances to the contacts (``weight`` the decayed count);
    ``ais`` is the AIS track it follows (-1: none); ``track`` its dark track once
    confirmed; ``pending`` its contacts while a tentative dark track."""

    cdef public double last_t, weight, dark_first_t
    cdef public int64_t ais
    cdef public object track
    cdef public list pending
    # The kept contacts, oldest first: contacts[first:first + count] of capacity.
    cdef _Contact *contacts
    cdef Py_ssize_t first, count, capacity
    cdef _Score *score_of
    cdef Py_ssize_t scores_n, scores_capacity
    # Grid cell it is filed under while free.
    cdef bint filed
    cdef int64_t cell
    # The fitted line (from the last contact's time) while valid.
    cdef bint has_line
    cdef double line_t, line_lat, line_lon, slope_lat, slope_lon
    # Running sums over the kept contacts for the line fit (time, lat, lon relative to
    # the origin): t, t^2, lat, lon, t*lat, t*lon.
    cdef double t0, lat0, lon0
    cdef double sx, sxx, sy, sz, sxy, sxz
    cdef int64_t adds
    cdef bint stale

    def __init__(self):
        self.last_t = -INFINITY
        self.weight = 0.0
        self.ais = -1
        self.track = None
        self.pending = []
        self.dark_first_t = NAN

    def __dealloc__(self):
        free(self.contacts)
        free(self.score_of)

    @property
    def scores(self):
        """Per AIS track number, the decayed sum of normalised squared distances."""
        return {self.score_of[k].number: self.score_of[k].total for k in range(self.scores_n)}

    @property
    def kept(self):
        """The kept contacts (t, lat, lon), oldest first."""
        return [
            (self.contacts[k].t, self.contacts[k].lat, self.contacts[k].lon)
            for k in range(self.first, self.first + self.count)
        ]

    def __reduce__(self):
        state = (
            self.last_t, self.weight, self.dark_first_t, self.ais, self.track, self.pending,
            self.kept, list(self.scores.items()), self.filed, self.cell,
            self.t0, self.lat0, self.lon0, self.sx, self.sxx, self.sy, self.sz, self.sxy,
            self.sxz, self.adds, self.stale,
        )  # fmt: skip
        return (Tracklet, (), state)

    def __setstate__(self, state):
        cdef Py_ssize_t k
        (
            self.last_t, self.weight, self.dark_first_t, self.ais, self.track, self.pending,
            kept, scores, self.filed, self.cell,
            self.t0, self.lat0, self.lon0, self.sx, self.sxx, self.sy, self.sz, self.sxy,
            self.sxz, self.adds, self.stale,
        ) = state  # fmt: skip
        self.first = self.count = 0
        for t, lat, lon in kept:
            self._append(t, lat, lon)
        self.scores_n = 0
        for number, total in scores:
            self._set_score(self.scores_n, number, total)
        self.has_line = False

    cdef void _append(self, double t, double lat, double lon) except *:
        cdef _Contact *grown
        cdef Py_ssize_t size
        if self.first + self.count == self.capacity:
            if self.first > 0 and self.count <= self.capacity // 2:
                memmove(self.contacts, self.contacts + self.first, self.count * sizeof(_Contact))
                self.first = 0
            else:
                size = max(2 * self.capacity, 8)
                grown = <_Contact *>realloc(self.contacts, size * sizeof(_Contact))
                if grown == NULL:
                    raise MemoryError()
                self.contacts = grown
                self.capacity = size
        self.contacts[self.first + self.count] = _Contact(t, lat, lon)
        self.count += 1

    cdef void _set_score(self, Py_ssize_t k, int64_t number, double total) except *:
        """Score ``k`` (at most one past the last) is ``total`` for AIS track ``number``."""
        cdef _Score *grown
        cdef Py_ssize_t size
        if k == self.scores_capacity:
            size = max(2 * self.scores_capacity, 4)
            grown = <_Score *>realloc(self.score_of, size * sizeof(_Score))
            if grown == NULL:
                raise MemoryError()
            self.score_of = grown
            self.scores_capacity = size
        self.score_of[k] = _Score(number, total)
        if k == self.scores_n:
            self.scores_n += 1

    cpdef void add(self, double t, double lat, double lon, Py_ssize_t keep):
        """One more contact; the line is fitted to the last ``keep``. The running sums
        are kept only while the tracklet follows no AIS track (else its line is not
        used: they are summed afresh when it is)."""
        cdef bint running = self.ais < 0 and not self.stale and self.adds % 256 != 0
        cdef _Contact oldest
        self.adds += 1
        self._append(t, lat, lon)
        if running:
            self._sum(t, lat, lon, 1.0)
        if self.count > keep:
            oldest = self.contacts[self.first]
            if running:
                self._sum(oldest.t, oldest.lat, oldest.lon, -1.0)
            self.first += 1
            self.count -= 1
        if not running:
            if self.ais >= 0:
                self.stale = True
            else:
                self._rebase(t, lat, lon)
        self.last_t = t
        self.has_line = False

    cdef inline void _sum(self, double t, double lat, double lon, double sign) noexcept:
        cdef double x = t - self.t0
        cdef double y = lat - self.lat0
        cdef double z = lon - self.lon0
        self.sx += sign * x
        self.sxx += sign * x * x
        self.sy += sign * y
        self.sz += sign * z
        self.sxy += sign * x * y
        self.sxz += sign * x * z

    cdef void _rebase(self, double t, double lat, double lon) noexcept:
        """Sums afresh about a new origin (rounding does not pile up over long chains)."""
        cdef Py_ssize_t k
        self.t0 = t
        self.lat0 = lat
        self.lon0 = lon
        self.sx = self.sxx = self.sy = self.sz = self.sxy = self.sxz = 0.0
        self.stale = False
        for k in range(self.first, self.first + self.count):
            self._sum(self.contacts[k].t, self.contacts[k].lat, self.contacts[k].lon, 1.0)

    cdef void _score(
        self,
        const int64_t[:] numbers,
        const double[:] xs,
        Py_ssize_t lo,
        Py_ssize_t hi,
        double gate2,
        double decay,
    ) except *:
        """Fold one contact's gated AIS tracks (pairs ``lo:hi``, ``xs`` their normalised
        squared distances) into the scores; a track first seen now counts as at the gate
        for the history before, and one not gated now is counted at the gate (and
        forgotten once that is all it has been)."""
        cdef double prior = gate2 * self.weight
        cdef double x, total, give_up
        cdef Py_ssize_t p, k, kept = 0, before = self.scores_n
        cdef int64_t number
        cdef bint gated
        # Tracks gated now, from their previous totals (the old entries stay in place
        # until the others are decayed).
        for p in range(lo, hi):
            number = numbers[p]
            x = xs[p]
            total = prior
            for k in range(before):
                if self.score_of[k].number == number:
                    total = self.score_of[k].total
                    break
            self._set_score(
                self.scores_n, number, decay * total + (gate2 if gate2 < x else x)
            )
        self.weight = decay * self.weight + 1.0
        give_up = 0.99 * gate2 * self.weight
        # The others, decayed at the gate and dropped at give_up; then the new totals.
        for k in range(before):
            number = self.score_of[k].number
            gated = False
            for p in range(lo, hi):
                if numbers[p] == number:
                    gated = True
                    break
            if gated:
                continue
            total = decay * self.score_of[k].total + gate2
            if total < give_up:
                self.score_of[kept] = _Score(number, total)
                kept += 1
        for k in range(before, self.scores_n):
            self.score_of[kept] = self.score_of[k]
            kept += 1
        self.scores_n = kept

    cdef inline double _mean_cost(self, int64_t number) noexcept:
        cdef Py_ssize_t k
        for k in range(self.scores_n):
            if self.score_of[k].number == number:
                return self.score_of[k].total / self.weight
        return INFINITY

    def predict(self, double t, double sigma_m, object c):
        """Position at ``t`` and the gate radius (m): on the line fitted to the last
        contacts (fit error taken as one more contact error, plus room to manoeuvre), or
        the last contact with room for top speed when there is no fit yet."""
        return self._predict(t, sigma_m, c.gate_sigmas, c.dark_max_speed_kn * _KNOTS)

    cdef (double, double, double) _predict(
        self, double t, double sigma_m, double gate_sigmas, double top_speed_m_s
    ) noexcept:
        cdef double dt = t - self.last_t
        cdef double sigma = sqrt(2.0) * sigma_m
        cdef _Contact last
        if self._fit():
            return (
                self.line_lat + self.slope_lat * (t - self.line_t),
                self.line_lon + self.slope_lon * (t - self.line_t),
                (gate_sigmas + 1.0) * sigma + _MANOEUVRE_M_S * dt,
            )
        last = self.contacts[self.first + self.count - 1]
        return (last.lat, last.lon, gate_sigmas * sigma + top_speed_m_s * dt)

    cdef bint _fit(self) noexcept:
        """Fit the line (least squares from the running sums) unless it is fitted; false
        when there is none yet (under three contacts, under 30 s, or no spread)."""
        cdef Py_ssize_t n = self.count
        cdef double xm, var, slope_lat, slope_lon, lat_m, lon_m
        cdef _Contact last
        if self.has_line:
            return True
        if n < 3:
            return False
        last = self.contacts[self.first + n - 1]
        if last.t - self.contacts[self.first].t < 30.0:
            return False
        if self.stale:
            self._rebase(last.t, last.lat, last.lon)
        xm = self.sx / <double>n
        var = self.sxx - self.sx * xm
        if var <= 1e-9:
            return False
        slope_lat = (self.sxy - xm * self.sy) / var
        slope_lon = (self.sxz - xm * self.sz) / var
        lat_m = self.lat0 + self.sy / <double>n - slope_lat * xm
        lon_m = self.lon0 + self.sz / <double>n - slope_lon * xm
        # The line through (t0, lat_m, lon_m), expressed from the last contact's time.
        self.line_t = last.t
        self.line_lat = lat_m + slope_lat * (last.t - self.t0)
        self.line_lon = lon_m + slope_lon * (last.t - self.t0)
        self.slope_lat = slope_lat
        self.slope_lon = slope_lon
        self.has_line = True
        return True


cdef class RadarState:
    """One radar's tracklets: which follows which AIS track (``owner``), the free ones
    (following none) by grid cell, and the learned report period."""

    cdef public list tracklets
    cdef public dict owner
    cdef public dict cells
    cdef public double done_t, expired_t, period
    # The last _GAP_SAMPLE gaps' histogram bins (a ring: the next to replace at
    # gap_next) and their histogram.
    cdef int64_t gap_bin[_GAP_SAMPLE]
    cdef int64_t gap_count, gap_next
    cdef int64_t histogram[_GAP_BINS]
    cdef public int64_t new_gaps
    cdef public dict last_close

    def __init__(self):
        self.tracklets = []
        self.owner = {}
        self.cells = {}
        self.done_t = -INFINITY
        self.expired_t = -INFINITY
        self.gap_count = 0
        self.gap_next = 0
        memset(self.histogram, 0, sizeof(self.histogram))
        self.new_gaps = 0
        self.period = 0.0
        self.last_close = {}

    cpdef void learn_period(self, object number, double t, double scan_s):
        """A contact within one sigma of AIS track ``number`` at ``t``: the time since the
        track's previous such contact is a sample of the report period (or a multiple,
        after a missed report). The period is the commonest sample, which neither missed
        reports nor a neighbour's contacts move; it is learned apart from the tracklets,
        which it then constrains."""
        cdef double gap, horizon
        before = self.last_close.get(number)
        self.last_close[number] = t
        if before is None:
            return
        gap = t - <double>before
        if not (scan_s < gap and gap <= _MAX_PERIOD_S):
            return
        self._add_gap(<int64_t>rint(gap / _GAP_BIN_S))  # half to even, as np.round
        self.new_gaps += 1
        if self.gap_count >= _GAP_MIN_SAMPLE and self.new_gaps >= 64:
            self.new_gaps = 0
            self.period = <double>self._commonest_bin() * _GAP_BIN_S
        if len(self.last_close) > 4 * _GAP_SAMPLE:
            horizon = t - _MAX_PERIOD_S
            self.last_close = {n: v for n, v in self.last_close.items() if v >= horizon}

    cdef void _add_gap(self, int64_t gap_bin) noexcept:
        """One more sample in the histogram, the oldest out once there are _GAP_SAMPLE."""
        if self.gap_count == _GAP_SAMPLE:
            self.histogram[self.gap_bin[self.gap_next]] -= 1
        else:
            self.gap_count += 1
        self.gap_bin[self.gap_next] = gap_bin
        self.gap_next = (self.gap_next + 1) % _GAP_SAMPLE
        self.histogram[gap_bin] += 1

    cdef int64_t _commonest_bin(self) noexcept:
        """The bin whose count with its two neighbours' is highest (the first of equals):
        a period between two bins splits its samples."""
        cdef int64_t k, total, best = 0, best_total = -1
        for k in range(_GAP_BINS):
            total = self.histogram[k]
            if k > 0:
                total += self.histogram[k - 1]
            if k + 1 < _GAP_BINS:
                total += self.histogram[k + 1]
            if total > best_total:
                best = k
                best_total = total
        return best

    cdef void _follow(self, Tracklet tracklet, int64_t number):
        """The tracklet now follows AIS track ``number`` (and stops being free)."""
        cdef Tracklet previous
        if tracklet.ais == number:
            return
        self._release(tracklet)
        previous = self.owner.get(number)
        if previous is not None and previous is not tracklet:
            previous.ais = -1
            self._place_free(previous)
        self.owner[number] = tracklet
        tracklet.ais = number
        self._unplace_free(tracklet)

    cdef void _release(self, Tracklet tracklet):
        """The tracklet follows no AIS track any more."""
        if tracklet.ais >= 0:
            if self.owner.get(tracklet.ais) is tracklet:
                del self.owner[tracklet.ais]
            tracklet.ais = -1

    cdef void _place_free(self, Tracklet tracklet):
        """(Re)file a free tracklet under the cell of its last contact."""
        cdef _Contact last = tracklet.contacts[tracklet.first + tracklet.count - 1]
        cdef int64_t cell = _cell_of(last.lat, last.lon)
        cdef set members
        if tracklet.filed and cell == tracklet.cell:
            return
        self._unplace_free(tracklet)
        members = self.cells.get(cell)
        if members is None:
            members = set()
            self.cells[cell] = members
        members.add(tracklet)
        tracklet.cell = cell
        tracklet.filed = True

    cdef void _unplace_free(self, Tracklet tracklet):
        cdef set members
        if tracklet.filed:
            members = self.cells.get(tracklet.cell)
            if members is not None:
                members.discard(tracklet)
                if not members:
                    del self.cells[tracklet.cell]
            tracklet.filed = False

    cdef void _expire(self, double t, double drop_after_s, double tentative_s):
        """Drop tracklets silent too long: a confirmed dark one after ``drop_after_s``,
        any other after ``tentative_s``."""
        cdef list keep = []
        cdef Tracklet tracklet
        cdef double limit
        for tracklet in self.tracklets:
            limit = drop_after_s if tracklet.track is not None else tentative_s
            if t - tracklet.last_t <= limit:
                keep.append(tracklet)
            else:
                self._release(tracklet)
                self._unplace_free(tracklet)
        self.tracklets = keep
        self.expired_t = t


cdef struct _Settings:
    double scan_s
    double slack_share
    double gate2
    double decay
    double gate_sigmas
    double top_speed_m_s
    double max_mean_cost
    double owner_margin
    double tentative_s
    double drop_after_s
    double confirm_span_s
    Py_ssize_t confirm_contacts
    Py_ssize_t fit_contacts
    double sigma_m
    double fit_sigma2
    double missed_report_cost
    double free_misses
    double new_tracklet_cost


cdef class _Options:
    """Per-scan scratch: each contact's options (a tracklet or a pair index, with its
    cost) in the order found, contact ``k``'s at ``start[k]:start[k + 1]``; ``column``
    is each option's column in the Hungarian method's matrix."""

    cdef double *cost
    cdef int64_t *pair
    cdef Py_ssize_t *column
    cdef Py_ssize_t *start
    cdef Py_ssize_t size, capacity, contacts, contact_capacity
    cdef list tracklets

    def __cinit__(self):
        self.capacity = 64
        self.contact_capacity = 64
        self.cost = <double *>malloc(self.capacity * sizeof(double))
        self.pair = <int64_t *>malloc(self.capacity * sizeof(int64_t))
        self.column = <Py_ssize_t *>malloc(self.capacity * sizeof(Py_ssize_t))
        self.start = <Py_ssize_t *>malloc((self.contact_capacity + 1) * sizeof(Py_ssize_t))
        if self.cost == NULL or self.pair == NULL or self.column == NULL or self.start == NULL:
            raise MemoryError()
        self.tracklets = []

    def __dealloc__(self):
        free(self.cost)
        free(self.pair)
        free(self.column)
        free(self.start)

    cdef void clear(self):
        self.size = 0
        self.contacts = 0
        self.start[0] = 0
        del self.tracklets[:]

    cdef void next_contact(self) except *:
        """Close the current contact's options."""
        cdef Py_ssize_t *grown
        if self.contacts + 1 >= self.contact_capacity:
            self.contact_capacity *= 2
            grown = <Py_ssize_t *>realloc(
                self.start, (self.contact_capacity + 1) * sizeof(Py_ssize_t)
            )
            if grown == NULL:
                raise MemoryError()
            self.start = grown
        self.contacts += 1
        self.start[self.contacts] = self.size

    cdef void push(self, double cost, int64_t pair) except *:
        cdef double *costs
        cdef int64_t *pairs
        cdef Py_ssize_t *columns
        if self.size == self.capacity:
            self.capacity *= 2
            costs = <double *>realloc(self.cost, self.capacity * sizeof(double))
            if costs == NULL:
                raise MemoryError()
            self.cost = costs
            pairs = <int64_t *>realloc(self.pair, self.capacity * sizeof(int64_t))
            if pairs == NULL:
                raise MemoryError()
            self.pair = pairs
            columns = <Py_ssize_t *>realloc(self.column, self.capacity * sizeof(Py_ssize_t))
            if columns == NULL:
                raise MemoryError()
            self.column = columns
        self.cost[self.size] = cost
        self.pair[self.size] = pair
        self.size += 1

    cdef Py_ssize_t best(self, Py_ssize_t k):
        """Index of contact ``k``'s cheapest option (the first of equals), -1 if none."""
        cdef Py_ssize_t j, found = -1
        for j in range(self.start[k], self.start[k + 1]):
            if found < 0 or self.cost[j] < self.cost[found]:
                found = j
        return found


cdef list _assign(_Options options):
    """One tracklet per contact at most and one contact per tracklet, least total cost:
    the cheapest option each when no two contacts want one tracklet, else the Hungarian
    method over the scan. Indexes of the chosen options (-1: none)."""
    cdef Py_ssize_t n = options.contacts, k, j
    cdef list best = [options.best(k) for k in range(n)]
    cdef dict column_of = {}
    if n == 1 or not _one_tracklet_twice(options, best):
        return best
    for j in range(options.size):
        options.column[j] = column_of.setdefault(options.tracklets[j], len(column_of))
    return _solve(options, len(column_of))


cdef list _assign_pairs(_Options options, const int64_t[:] numbers):
    """Per contact, one of its gated pairs or none, no AIS track twice: as ``_assign``,
    with pairs standing for their AIS track. Indexes of the chosen options (-1: none)."""
    cdef Py_ssize_t n = options.contacts, k, j
    cdef list best = [options.best(k) for k in range(n)]
    cdef dict column_of = {}
    if not _one_track_twice(options, best, numbers):
        return best
    for j in range(options.size):
        options.column[j] = column_of.setdefault(numbers[options.pair[j]], len(column_of))
    return _solve(options, len(column_of))


cdef bint _one_tracklet_twice(_Options options, list best) except -1:
    """Whether two contacts' chosen options are one tracklet."""
    cdef Py_ssize_t a, b, n = len(best)
    cdef Py_ssize_t ja, jb
    if n > _SMALL_SCAN:
        taken = [options.tracklets[ja] for ja in best if ja >= 0]
        return len(taken) != len(set(taken))
    for a in range(n):
        ja = best[a]
        if ja < 0:
            continue
        for b in range(a):
            jb = best[b]
            if jb >= 0 and options.tracklets[ja] is options.tracklets[jb]:
                return True
    return False


cdef bint _one_track_twice(_Options options, list best, const int64_t[:] numbers) except -1:
    """Whether two contacts' chosen pairs are of one AIS track."""
    cdef Py_ssize_t a, b, n = len(best)
    cdef Py_ssize_t ja, jb
    if n > _SMALL_SCAN:
        taken = [numbers[options.pair[ja]] for ja in best if ja >= 0]
        return len(taken) != len(set(taken))
    for a in range(n):
        ja = best[a]
        if ja < 0:
            continue
        for b in range(a):
            jb = best[b]
            if jb >= 0 and numbers[options.pair[ja]] == numbers[options.pair[jb]]:
                return True
    return False


cdef list _solve(_Options options, Py_ssize_t columns):
    """The Hungarian method over the contacts (rows) and ``columns`` (each option's in
    ``options.column``): the option chosen per contact, -1 for none."""
    cdef Py_ssize_t n = options.contacts, size = n * columns, k, j, cell
    cdef double *cost = <double *>malloc(size * sizeof(double))
    cdef Py_ssize_t *chosen = <Py_ssize_t *>malloc(size * sizeof(Py_ssize_t))
    cdef list out = [-1] * n
    try:
        if cost == NULL or chosen == NULL:
            raise MemoryError()
        for cell in range(size):
            cost[cell] = _NO_OPTION
            chosen[cell] = -1
        for k in range(n):
            for j in range(options.start[k], options.start[k + 1]):
                cost[k * columns + options.column[j]] = options.cost[j]
                chosen[k * columns + options.column[j]] = j
        matrix = np.frombuffer(
            PyBytes_FromStringAndSize(<char *>cost, size * sizeof(double)), np.float64
        ).reshape(n, columns)
        rows, cols = linear_sum_assignment(matrix)
        for k, j in zip(rows.tolist(), cols.tolist()):
            if cost[k * columns + j] < _NO_OPTION:
                out[k] = chosen[k * columns + j]
        return out
    finally:
        free(cost)
        free(chosen)


cdef class _Scan:
    """One radar's contacts and gated pairs for ``run_scans``, and what it needs of the
    tracker."""

    cdef _Settings s
    cdef RadarState state
    cdef const int64_t[:] ptr
    cdef const int64_t[:] numbers
    cdef const double[:] xs
    cdef const double[:] dists
    cdef const double[:] times
    cdef const double[:] lats
    cdef const double[:] lons
    cdef const int64_t[:] seqs
    cdef object rows
    cdef list associations
    cdef dict pending
    cdef object confirm
    cdef _Options options

    cdef list continue_tracklets(self, Py_ssize_t start, Py_ssize_t stop, double t):
        """The tracklet each contact of the scan continues (a new one if none fits): by
        the gated AIS tracks they follow, or by the line of free ones, each at most
        once."""
        cdef RadarState state = self.state
        cdef _Options options = self.options
        cdef double period = state.period
        cdef double slack = self.s.slack_share * period
        cdef double coslat = cos(self.lats[start] * _DEG_TO_RAD)
        cdef double lat, lon, plat, plon, radius, north, east, d2, dt, cost, missed
        cdef Py_ssize_t i, p, j, first
        cdef int64_t row, col, dr, dc
        cdef Tracklet owner, free_one, tracklet
        cdef set members
        cdef list out = []
        options.clear()
        for i in range(start, stop):
            first = options.size
            for p in range(self.ptr[i], self.ptr[i + 1]):
                owner = state.owner.get(self.numbers[p])
                if owner is None or not _on_time(
                    t - owner.last_t, period, slack, self.s.scan_s
                ):
                    continue
                j = _find(options, first, owner)
                if j < 0:
                    options.tracklets.append(owner)
                    options.push(self.xs[p] if self.xs[p] < INFINITY else INFINITY, -1)
                elif self.xs[p] < options.cost[j]:
                    options.cost[j] = self.xs[p]
            lat = self.lats[i]
            lon = self.lons[i]
            row = _cell_index(lat)
            col = _cell_index(lon)
            for dr in range(-1, 2):
                for dc in range(-1, 2):
                    members = state.cells.get((row + dr) * _CELL_STRIDE + col + dc)
                    if not members:
                        continue
                    for free_one in members:
                        dt = t - free_one.last_t
                        if _find(options, first, free_one) >= 0 or not _on_time(
                            dt, period, slack, self.s.scan_s
                        ):
                            continue
                        plat, plon, radius = free_one._predict(
                            t, self.s.sigma_m, self.s.gate_sigmas, self.s.top_speed_m_s
                        )
                        north = (lat - plat) * _M_DEG
                        east = (lon - plon) * _M_DEG * coslat
                        d2 = north * north + east * east
                        if d2 > radius * radius:
                            continue
                        # Reports missed beyond a few cost as a track score would, and
                        # past new_tracklet_cost the contact starts a tracklet of its
                        # own: a line extrapolated through minutes of silence is a poor
                        # bet, whoever's contact it nears (FuseConfig).
                        cost = d2 / self.s.fit_sigma2 + _FREE_PENALTY
                        if period > 0.0:
                            missed = rint(dt / period) - 1.0 - self.s.free_misses
                            if missed > 0.0:
                                cost += self.s.missed_report_cost * missed
                        if cost <= self.s.new_tracklet_cost:
                            options.tracklets.append(free_one)
                            options.push(cost, -1)
            options.next_contact()
        for j in _assign(options):
            if j < 0:
                tracklet = Tracklet()
                state.tracklets.append(tracklet)
            else:
                tracklet = options.tracklets[j]
            out.append(tracklet)
        return out

    cdef list follow(self, Py_ssize_t start, Py_ssize_t stop, list tracklets, double t):
        """Per contact, the gated pair (index into the pairs) of the AIS track its
        tracklet follows from now, -1 if none; the tracklets' following is updated."""
        cdef RadarState state = self.state
        cdef _Options options = self.options
        cdef double stale = t - self.s.tentative_s
        cdef double cost
        cdef Py_ssize_t i, p, j
        cdef int64_t number
        cdef Tracklet tracklet, owner
        cdef list picked, out
        options.clear()
        for i in range(start, stop):
            tracklet = tracklets[i - start]
            for p in range(self.ptr[i], self.ptr[i + 1]):
                if self.xs[p] > self.s.gate2:
                    continue
                number = self.numbers[p]
                cost = tracklet._mean_cost(number)
                if cost > self.s.max_mean_cost:
                    continue
                owner = state.owner.get(number)
                if (
                    owner is not None
                    and owner is not tracklet
                    and owner.last_t >= stale
                    and owner._mean_cost(number) <= cost + self.s.owner_margin
                ):
                    continue
                options.push(cost, p)
            options.next_contact()
        picked = _assign_pairs(options, self.numbers)
        out = []
        for i in range(start, stop):
            tracklet = tracklets[i - start]
            j = picked[i - start]
            if j < 0:
                state._release(tracklet)
                state._place_free(tracklet)
                out.append(-1)
            else:
                state._follow(tracklet, self.numbers[options.pair[j]])
                out.append(options.pair[j])
        return out

    cdef void nearest_only(self, Py_ssize_t start, Py_ssize_t stop) except *:
        """A scan older than what this radar's tracklets have seen (late data): each
        contact on its nearest gated AIS track, if any, without touching the tracklets."""
        cdef _Options options = self.options
        cdef Py_ssize_t i, p, j
        cdef list picked
        options.clear()
        for i in range(start, stop):
            for p in range(self.ptr[i], self.ptr[i + 1]):
                if self.xs[p] <= self.s.gate2:
                    options.push(self.xs[p], p)
            options.next_contact()
        picked = _assign_pairs(options, self.numbers)
        for i in range(start, stop):
            j = picked[i - start]
            if j < 0:
                self.associations.append(Association(self.seqs[i], self.times[i], None, None))
            else:
                p = options.pair[j]
                self.associations.append(
                    Association(self.seqs[i], self.times[i], self.numbers[p], self.dists[p])
                )

    cdef object dark(self, Tracklet tracklet, Py_ssize_t i):
        """A contact no AIS track explains: on its tracklet's dark track, or kept until
        the tracklet is confirmed (its number then)."""
        cdef list index
        if tracklet.track is not None:
            number = tracklet.track.number
            index = self.pending.get(number)
            if index is None:
                index = []
                self.pending[number] = index
            index.append(i)
            return number
        if not tracklet.pending:
            tracklet.dark_first_t = self.times[i]
        tracklet.pending.append((self.rows, i))
        if (
            len(tracklet.pending) >= self.s.confirm_contacts
            and self.times[i] - tracklet.dark_first_t >= self.s.confirm_span_s
        ):
            self.confirm(tracklet)
            return tracklet.track.number
        return None


cdef inline Py_ssize_t _find(_Options options, Py_ssize_t first, Tracklet tracklet):
    """Where ``tracklet`` is among the current contact's options (from ``first``), -1 if
    it is not."""
    cdef Py_ssize_t j
    for j in range(first, options.size):
        if options.tracklets[j] is tracklet:
            return j
    return -1


def run_scans(
    RadarState state,
    object config,
    double sigma_m,
    double gate2,
    double decay,
    const int64_t[:] starts,
    const double[:] scan_t,
    object pairs,
    object rows,
    list associations,
    dict pending,
    object confirm,
):
    """Associate one radar's contacts (``rows``, time order; scan ``k`` starts at
    ``starts[k]`` at mean time ``scan_t[k]``) by their gated ``pairs``: an
    ``Association`` each is appended to ``associations``; contacts on confirmed dark
    tracks go to ``pending`` (track number -> row indexes); ``confirm(tracklet)`` makes a
    tracklet's dark track and places its pending contacts."""
    cdef _Scan scan = _Scan()
    cdef Py_ssize_t n = len(rows), scans = starts.shape[0], k, start, stop, i, lo, hi, p
    cdef double t
    cdef list tracklets, picked
    cdef Tracklet tracklet
    scan.s.scan_s = config.scan_s
    scan.s.slack_share = config.radar_period_tolerance
    scan.s.gate2 = gate2
    scan.s.decay = decay
    scan.s.gate_sigmas = config.gate_sigmas
    scan.s.top_speed_m_s = config.dark_max_speed_kn * _KNOTS
    scan.s.max_mean_cost = config.radar_max_mean_cost
    scan.s.owner_margin = config.radar_owner_margin
    scan.s.tentative_s = config.dark_tentative_timeout_s
    scan.s.drop_after_s = config.dark_drop_after_s
    scan.s.confirm_span_s = config.dark_confirm_span_s
    scan.s.confirm_contacts = config.dark_confirm_contacts
    scan.s.fit_contacts = config.radar_fit_contacts
    scan.s.sigma_m = sigma_m
    scan.s.fit_sigma2 = 2.0 * pow(sigma_m, 2.0)
    scan.s.missed_report_cost = config.radar_missed_report_cost
    scan.s.free_misses = config.radar_free_misses
    scan.s.new_tracklet_cost = config.radar_new_tracklet_cost
    scan.state = state
    scan.ptr = pairs.ptr
    scan.numbers = pairs.number
    scan.xs = pairs.x
    scan.dists = pairs.distance_m
    scan.times = rows.t
    scan.lats = rows.lat
    scan.lons = rows.lon
    scan.seqs = rows.seq
    scan.rows = rows
    scan.associations = associations
    scan.pending = pending
    scan.confirm = confirm
    scan.options = _Options()
    for k in range(scans):
        start = starts[k]
        stop = starts[k + 1] if k + 1 < scans else n
        t = scan_t[k]
        if t < state.done_t:
            scan.nearest_only(start, stop)
            continue
        state.done_t = t
        if t - state.expired_t >= _EXPIRE_EVERY_S:
            state._expire(t, scan.s.drop_after_s, scan.s.tentative_s)
        tracklets = scan.continue_tracklets(start, stop, t)
        for i in range(start, stop):
            tracklet = tracklets[i - start]
            lo = scan.ptr[i]
            hi = scan.ptr[i + 1]
            # A contact near one AIS track and no other times the radar's period.
            if hi - lo == 1 and scan.xs[lo] <= _CLOSE_X:
                state.learn_period(scan.numbers[lo], t, scan.s.scan_s)
            tracklet._score(scan.numbers, scan.xs, lo, hi, gate2, decay)
            tracklet.add(scan.times[i], scan.lats[i], scan.lons[i], scan.s.fit_contacts)
        picked = scan.follow(start, stop, tracklets, t)
        for i in range(start, stop):
            tracklet = tracklets[i - start]
            p = picked[i - start]
            if p >= 0:
                tracklet.pending = []
                associations.append(
                    Association(scan.seqs[i], scan.times[i], scan.numbers[p], scan.dists[p])
                )
            else:
                number = scan.dark(tracklet, i)
                associations.append(
                    Association(
                        scan.seqs[i], scan.times[i], number, None if number is None else 0.0
                    )
                )


cdef inline double _mod360(double a) noexcept:
    """``a % 360.0`` as Python and numpy compute it for floats (sign of the divisor)."""
    cdef double mod = fmod(a, 360.0)
    if mod == 0.0:
        return 0.0
    if mod < 0.0:
        mod += 360.0
    return mod


cdef inline Py_ssize_t _count_below(const double *a, Py_ssize_t n, double v, bint equal) noexcept:
    """How many of the sorted ``a[:n]`` are below ``v`` (or equal to it, with ``equal``):
    ``np.searchsorted`` with side left (right)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = lo + (hi - lo) // 2
        if a[mid] < v or (equal and a[mid] == v):
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline double _interp(double x, const double *xp, const double *fp, Py_ssize_t n) noexcept:
    """``np.interp(x, xp, fp)`` for sorted ``xp`` (``n`` >= 1) and finite ``x``: the ends
    held beyond them, a fix's own value at its time."""
    cdef Py_ssize_t j
    cdef double slope, value
    if n == 1 or x < xp[0]:
        return fp[0]
    if x > xp[n - 1]:
        return fp[n - 1]
    j = _count_below(xp, n, x, True) - 1  # xp[j] <= x < xp[j + 1]
    if j == n - 1 or xp[j] == x:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    value = slope * (x - xp[j]) + fp[j]
    if isnan(value):
        value = slope * (x - xp[j + 1]) + fp[j + 1]
        if isnan(value) and fp[j] == fp[j + 1]:
            value = fp[j]
    return value


def predict_track(
    const double[::1] all_t,
    const uint16_t[:] flags,
    const double[:] all_lat,
    const double[:] all_lon,
    const double[:] all_sog,
    const double[:] all_cog,
    const double[:] when,
    uint16_t bad,
    object c,
    double[:] plat,
    double[:] plon,
    double[:] sigma,
):
    """A track's position at times ``when`` (sorted) into ``plat``, ``plon`` and
    ``sigma``, from its fixes (time order; those flagged ``bad`` left out unless all
    are): between fixes interpolated, after the last dead-reckoned, before the first
    held; sigma grows with the time to the nearest fix (NaN, which gates nothing, with
    no fix within ``association_max_age_s``). Only fixes within that age of the times
    (and the one before) are used."""
    cdef Py_ssize_t n_all = all_t.shape[0], m = when.shape[0], lo, hi, k, n = 0, q, i
    cdef double max_age = c.association_max_age_s
    cdef double sigma_m = c.prediction_sigma_m
    cdef double growth = c.prediction_sigma_growth_m_per_s
    cdef double cap = c.prediction_sigma_cap_m
    cdef double lon0, x, before, after, near, speed, course, cos_course, sin_course
    cdef double lon_scale, step, spread, last_t, sog, cog
    cdef double *t
    cdef double *lat
    cdef double *lon
    cdef Py_ssize_t *fix
    if m == 0:
        return
    lo = max(_count_below(&all_t[0], n_all, when[0] - max_age, False) - 1, 0)
    hi = min(_count_below(&all_t[0], n_all, when[m - 1] + max_age, True) + 1, n_all)
    fix = <Py_ssize_t *>malloc((hi - lo) * sizeof(Py_ssize_t))
    t = <double *>malloc((hi - lo) * sizeof(double))
    lat = <double *>malloc((hi - lo) * sizeof(double))
    lon = <double *>malloc((hi - lo) * sizeof(double))
    try:
        if fix == NULL or t == NULL or lat == NULL or lon == NULL:
            raise MemoryError()
        for k in range(lo, hi):
            if (flags[k] & bad) == 0:
                fix[n] = k
                n += 1
        if n == 0:
            for k in range(lo, hi):
                fix[n] = k
                n += 1
        # Longitudes made continuous from the first (a window of fixes spans far less
        # than 180 degrees).
        lon0 = all_lon[fix[0]]
        for k in range(n):
            t[k] = all_t[fix[k]]
            lat[k] = all_lat[fix[k]]
            lon[k] = _mod360(all_lon[fix[k]] - lon0 + 180.0) - 180.0 + lon0
        last_t = t[n - 1]
        sog = all_sog[fix[n - 1]]
        cog = all_cog[fix[n - 1]]
        # Dead reckoning on a local flat earth: at most association_max_age_s of travel.
        speed = sog * _KNOTS if isfinite(sog) and isfinite(cog) else 0.0
        course = cog * _DEG_TO_RAD if speed != 0.0 else 0.0
        cos_course = cos(course)
        sin_course = sin(course)
        spread = cos(lat[n - 1] * _DEG_TO_RAD)
        lon_scale = _M_DEG * (0.01 if 0.01 > spread else spread)
        for q in range(m):
            x = when[q]
            if x > last_t:
                step = speed * (x - last_t)
                plat[q] = lat[n - 1] + step * cos_course / _M_DEG
                plon[q] = lon[n - 1] + step * sin_course / lon_scale
            else:
                plat[q] = _interp(x, t, lat, n)
                plon[q] = _interp(x, t, lon, n)
            plon[q] = _mod360(plon[q] + 180.0) - 180.0
            i = _count_below(t, n, x, False)
            before = x - t[i - 1] if i > 0 else INFINITY
            after = t[i] - x if i < n else INFINITY
            near = before if before <= after else after
            sigma[q] = sigma_m + growth * near
            if sigma[q] > cap:
                sigma[q] = cap
            if near > max_age:
                sigma[q] = NAN
    finally:
        free(fix)
        free(t)
        free(lat)
        free(lon)
