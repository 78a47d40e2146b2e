"""Memory Mode: DRAM as a direct-mapped cache in front of PMem, with an address model.

Addresses come from a size-class pool like SEAL's memory pool: one free list per exact block
size, freed blocks reused last-in first-out, memory never returned. The cache is indexed by
physical address, and the OS backs each virtual page (4 KiB, or 2 MiB huge pages) with a frame
of its choosing: pages are mapped to frames at random (seeded), so a page's blocks land in a
random group of sets and hit ratios move smoothly with the cache size. The cache maps
``cache_block_bytes`` blocks (the hardware maps 64 B lines; whole-ciphertext streams hit or miss
the same way at coarser blocks) to ``capacity / block`` sets; a block larger than a page is
placed as one unit.

The rules are those of simulator/cache_oracle.py (the exact line-level reference this model is
held to, tests/unit/test_memory_mode_oracle.py):

- Order: an op's access rows are concurrent streams. Row r moves n_r blocks cycling over its
  tensor (n_r / L_r passes); its touches are dealt to T threads as an OpenMP static schedule does
  (thread t takes touches [t n_r / T, (t + 1) n_r / T)), the threads run in lockstep, and all rows
  advance in proportion: touch x issues at local time frac(x T / n_r) of thread floor(x T / n_r),
  touches at the same local time in thread order, then row order. Touches are looked up in the tag
  array strictly in that order (``_lookup``).
- Exact where cheap, statistical where not: rows of at most ``EXACT_PASSES`` passes are looked up
  touch by touch. A row of more passes is looked up at the first touch of each block; its other
  touches hit unless a block of the op that shares the set was touched since the block's last
  touch: a block of a row of p' passes is touched in a window of g local time with probability
  min(1, g p' / m), m the threads that touch it together (at one offset of the static schedule:
  p' / m distinct touch times), and the windows g (three values at most, by the three-gap theorem)
  follow from the static schedule. For random frames this is the reuse-distance rule (a line
  survives D distinct bytes with probability ~exp(-D / capacity)) with D counted set by set. The
  same windows make the looked-up touches' hits probabilities, counting only the blocks whose first
  touch came earlier (the lookup saw the others). Blocks of one set that a row's schedule touches at
  the same local times (ties: the static schedule's fronts are 1 / offsets of the tensor apart) do
  not evict each other at random: their touches are replayed in the threads' order.
- Costs per touch, as Cascade Lake pays them (tags live with the data; Hildebrand et al., ISPASS
  2021; darchr/dram-cache-model policy_manager.cc): a load reads the DRAM line (tag and data); on
  a miss it also reads PMem, fills DRAM and writes a dirty victim back to PMem. A store first
  reads its line for ownership (RFO: as a load; its PMem read is a store fill, not a demand load),
  then the write-back from the CPU's cache checks the tag (a DRAM read) and writes DRAM. Streaming
  stores (``rfo=False``: whole lines, no read) check the tag and write, allocating on a miss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hetier.available_memory import available_memory_bytes
from hetier.errors import UsageError

LINE = 64  # the hardware's cache line: Memory Mode's DRAM cache maps 64 B lines (Hildebrand et al., ISPASS 2021)
EXACT_PASSES = 2.0  # rows of at most this many passes are looked up touch by touch
SCHEDULE_KEEP = 1 << 21  # touches of row schedules kept for reuse (16 bytes each)
TIE_TOUCHES = 1 << 22  # most touches of tied blocks an op replays in order (past it: 1 / k^2 per reuse)
COMPACT_SHARE = 4  # the tag array keeps only the pool's sets while its blocks are at most 1 / 4 of the sets
COMPACT_SMALLEST = 1 << 16  # caches of fewer than COMPACT_SHARE times as many sets keep every set
# Memory an op's lookup holds per touch (its blocks, sets, local times, sort keys and order, the
# lookup's results): 116-254 B per touch measured with tracemalloc on the ops of more than a million
# touches of a ResNet-50, a MobileNetV2 and a 386 GB global-average-pool plan (peak inside op_traffic
# over the touches); rounded up so that the guard refuses before the kernel's out-of-memory killer.
BYTES_PER_TOUCH = 300
GUARD_FROM = 1 << 30  # bytes: smaller ops are not checked (the check reads /proc once per op)


class SizeClassPool:
    """Addresses of a pool allocator with one LIFO free list per block size; never shrinks."""

    def __init__(self, align: int = 4096):
        self.top = 0
        self.align = align
        self.free: dict[int, list[np.ndarray]] = {}

    def alloc(self, count: int, size: int) -> np.ndarray:
        out = []
        stack = self.free.get(size, [])
        need = count
        while need and stack:
            chunk = stack[-1]
            take = min(need, len(chunk))
            out.append(chunk[len(chunk) - take:][::-1])
            if take == len(chunk):
                stack.pop()
            else:
                stack[-1] = chunk[:len(chunk) - take]
            need -= take
        if need:
            step = -(-size // self.align) * self.align
            out.append(self.top + step * np.arange(need, dtype=np.int64))
            self.top += step * need
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def release(self, addrs: np.ndarray, size: int) -> None:
        if len(addrs):
            self.free.setdefault(size, []).append(addrs.copy())


@dataclass
class MMTraffic:
    """Bytes one op moves in Memory Mode, and what they were for."""

    dram_read: float = 0.0  # hits' data, tag checks (every access reads the line's tag with its data)
    dram_write: float = 0.0  # fills and stores
    pmem_read: float = 0.0  # misses: demand loads and store fills (RFO)
    pmem_write: float = 0.0  # dirty victims written back
    hit_bytes: float = 0.0
    miss_bytes: float = 0.0
    writeback_bytes: float = 0.0
    misses: int = 0  # 64 B lines read from PMem: the misses whose latency a thread waits for
    rfo_bytes: float = 0.0  # stores' reads for ownership (DRAM or PMem)
    rfo_pmem_bytes: float = 0.0  # of which served by PMem (store fills)
    tag_check_bytes: float = 0.0  # DRAM reads of stores that only check the tag
    load_pmem_bytes: float = 0.0  # loads served by PMem (the rest of pmem_read is store fills)
    load_bytes: float = 0.0  # every load that reached the DRAM cache (hits and misses; stores' RFO aside)

    def add(self, o: "MMTraffic") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(o, k))


def _mix(x: np.ndarray, seed: int) -> np.ndarray:
    """A seeded 64-bit hash (splitmix64's finaliser): the frame the OS gave each page."""
    z = x.astype(np.uint64)
    z += np.uint64((seed * 0x9E3779B97F4A7C15 + 1) % 2 ** 64)
    z *= np.uint64(0x9E3779B97F4A7C15)
    t = z >> np.uint64(30)
    z ^= t
    z *= np.uint64(0xBF58476D1CE4E5B9)
    np.right_shift(z, np.uint64(27), out=t)
    z ^= t
    z *= np.uint64(0x94D049BB133111EB)
    np.right_shift(z, np.uint64(31), out=t)
    z ^= t
    return z


def page_sets(blocks: np.ndarray, n_sets: int, per_page: int, seed: int) -> np.ndarray:
    """Cache set of each (virtual) block: its page's random frame, then its place in the page.
    The oracle calls it with 64 B lines, this model with its blocks: a page lands in one frame."""
    k = per_page
    groups = max(1, n_sets // k)
    if k == 1:  # a block per page (or more): its frame is its set
        h = _mix(blocks, seed)
        h %= np.uint64(groups)
        return h.astype(np.int64)
    frame = (_mix(blocks // k, seed) % np.uint64(groups)).astype(np.int64)
    return (frame * k + blocks % k) % n_sets


def issue_order(x: np.ndarray, n: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(local time, thread) of touches ``x`` of a row of ``n`` touches run by ``threads`` threads
    under a static schedule (thread t takes touches [t n / T, (t + 1) n / T))."""
    u = (x * threads) / n
    th = np.floor(u)
    u -= th
    return u, th


def schedule_offsets(passes: float, threads: int) -> np.ndarray:
    """The distinct local-time offsets at which the threads of a row of ``passes`` passes touch a
    block (thread t at frac(x / L - t p / T)); threads sharing an offset touch it together."""
    offs = np.unique(np.round(np.mod(-np.arange(threads) * (passes / threads), 1.0), 12))
    return offs[offs < 1.0]


def touch_times(passes: float, threads: int) -> float:
    """Distinct local times at which a block of a row of ``passes`` passes is touched: the threads
    that share an offset of the static schedule touch it together."""
    return passes * len(schedule_offsets(passes, threads)) / threads


def schedule_gaps(passes: float, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """Reuse windows (local time) between consecutive touches of one block of a row of ``passes``
    passes, and the share of the row's reuses (touches after the first) with each. Thread t
    touches a block every T / p of local time from offset frac(x / L - t p / T): threads with the
    same offset touch it together (window 0), the others after the circular gap to the next offset."""
    c = passes / threads  # passes per thread
    offs = schedule_offsets(passes, threads)
    mult = threads / len(offs)  # threads per offset (the offsets t c mod 1 repeat with period T / mult)
    circ = np.diff(np.r_[offs, offs[0] + 1.0]) / c  # local-time gap to the next distinct offset
    reuses = max(passes - 1.0, 1e-12)
    together = passes * (mult - 1) / mult  # touches of a block by a thread that shares its offset
    apart = max(passes / mult - 1.0, 0.0)
    gaps = np.r_[0.0, circ]
    w = np.r_[together / reuses, np.full(len(circ), apart / reuses / len(circ))]
    # at most three distinct circular gaps (three-gap theorem): one entry each
    g, inv = np.unique(np.round(gaps, 9), return_inverse=True)
    return g, np.bincount(inv, weights=w)


def exact_row(n: int, L: int) -> bool:
    """Whether a row of ``n`` touches over ``L`` blocks is looked up touch by touch (at most
    ``EXACT_PASSES`` passes); otherwise each block's first touch is, and its other passes estimated."""
    return n / L <= EXACT_PASSES


def _row_schedule(n: int, L: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """(local time, thread) of the touches of a row of ``n`` touches over ``L`` blocks that are
    looked up (touch x is of block x mod L): every touch for rows of at most ``EXACT_PASSES``
    passes, else each block's first, made by the thread whose chunk reaches it earliest."""
    if exact_row(n, L):
        tau, th = issue_order(np.arange(n, dtype=np.int64), n, threads)
        return tau, th.astype(np.int64)
    c = (n / L) / threads
    offs = np.sort(np.mod(np.arange(threads) * c, 1.0))
    y = np.arange(L) / L
    k = np.searchsorted(offs, y, side="right") - 1  # nearest offset at or below y (wraps)
    d = np.where(k >= 0, y - offs[np.maximum(k, 0)], y - offs[-1] + 1.0)
    return d / c, np.zeros(L, dtype=np.int64)


class _OpSets:
    """The op's distinct cache sets, from the lookup's order by set (the sets of the op's blocks and
    of its touches are the same): each touch's set as an index into them, and for the many-pass
    rule the op's distinct blocks per set and class (the most passes a row of the op makes over them)."""

    def __init__(self, rows: list, counts: list[int], by_set: tuple, stat: list[int]):
        self.stat = stat  # the rows of many passes (looked up at their blocks' first touches)
        # their touches n and blocks L, and where each row's blocks start in ``stat_blocks()``
        self.stat_n = np.array([rows[i][4] for i in stat], dtype=np.int64)
        self.stat_L = np.array([len(rows[i][1]) for i in stat], dtype=np.int64)
        self.stat_cut = np.concatenate([[0], np.cumsum(self.stat_L)])
        self.order, _, self.first, self.hit_sorted, self.sets, self.end_tag, self.end_dirty = by_set
        self.set_of = np.cumsum(self.first) - 1  # by lookup order
        self.n = int(self.set_of[-1]) + 1
        self.position = np.empty(len(self.order), dtype=np.int64)  # each touch's place in the lookup order
        self.position[self.order] = np.arange(len(self.order))
        self.touch_set = self.set_of[self.position]  # by touch
        self.base = np.cumsum([0] + counts[:-1]).tolist()
        self.counts = counts
        self.rows = rows
        self._classes = None
        self._single = None
        self._mixed = None
        self.shares: dict[tuple[int, int], float] = {}  # (tensor, touches) -> the many-pass rule's hit share
        self._tied: dict[int, tuple[np.ndarray, np.ndarray | None]] | None = None
        self._stat_blocks: np.ndarray | None = None

    def row_sets(self, i: int) -> np.ndarray:
        """Set index of row ``i``'s looked-up touches (its first touches are its blocks in order)."""
        return self.touch_set[self.base[i]:self.base[i] + self.counts[i]]

    def stat_blocks(self) -> np.ndarray:
        """The blocks of the rows of many passes, row after row (each row's in order)."""
        if self._stat_blocks is None:
            self._stat_blocks = np.concatenate([self.rows[i][1] for i in self.stat])
        return self._stat_blocks

    def tied(self, T: int) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """Per row of many passes: how many distinct blocks of its set (itself included) are touched
        at the same local times as each of its blocks (ties: rows of one schedule, n touches over L
        blocks, touch block y at the times of its phase y mod (L / gcd(L, offsets)), the static
        schedule's fronts being 1 / offsets of the tensor apart); and, per block and gap of
        ``schedule_gaps``, how many of its touches after the first follow its own touch among its
        ties, replayed touch by touch in the threads' order (None past ``TIE_TOUCHES``)."""
        if self._tied is None:
            stat, Ls, cut = self.stat, self.stat_L.tolist(), self.stat_cut
            kinds: dict[tuple[int, int], int] = {}
            kind = [kinds.setdefault((n, L), len(kinds)) for n, L in zip(self.stat_n.tolist(), Ls)]
            K = len(kinds)
            step = np.array([L // np.gcd(L, len(schedule_offsets(n / L, T))) for n, L in zip(self.stat_n.tolist(), Ls)])
            # a tie shares set, schedule and phase: candidates are the blocks whose (set, schedule,
            # phase) hashes into a bucket with another's (a superset, sorted out exactly below)
            key = np.concatenate([(self.row_sets(i)[:L] * K + kd) * (int(step.max()) + 1)
                                  + np.arange(L, dtype=np.int64) % st for i, L, kd, st in zip(stat, Ls, kind, step)])
            bits = max(4, int(4 * len(key)).bit_length())
            bucket = ((key.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)).astype(np.int64)
            kt = np.ones(len(key))
            g_of = np.full(len(key), -1, dtype=np.int64)
            cand = np.flatnonzero(np.bincount(bucket, minlength=1 << bits)[bucket] > 1)
            if len(cand):
                b = self.stat_blocks()[cand]
                o = np.lexsort((b, key[cand]))
                order = cand[o]
                k2, b2 = key[order], b[o]
                group = np.r_[True, k2[1:] != k2[:-1]]
                new_block = group | np.r_[True, b2[1:] != b2[:-1]]
                gid = np.cumsum(group) - 1
                kt[order] = np.bincount(gid, weights=new_block)[gid]
                g_of[order] = gid
            hits = self._tie_hits(kt, g_of, T)
            self._tied = {i: (kt[cut[j]:cut[j + 1]], hits.get(i)) for j, i in enumerate(stat)}
        return self._tied

    def _tie_hits(self, kt: np.ndarray, g_of: np.ndarray, T: int) -> dict[int, np.ndarray]:
        """For the tied blocks: their touches in the order the lockstep threads issue them (local
        time x T mod n over n, then thread, then row), a touch after the block's first counted per
        gap of its row's ``schedule_gaps`` when the touch before it among its ties is its own."""
        tied = np.flatnonzero(kt > 1)
        if not len(tied):
            return {}
        stat, n_of, L_of = self.stat, self.stat_n, self.stat_L
        j_of = np.searchsorted(self.stat_cut, tied, side="right") - 1  # index into stat
        y = tied - self.stat_cut[j_of]
        n, L = n_of[j_of], L_of[j_of]
        m = (n - y + L - 1) // L  # touches of each tied block
        if int(m.sum()) > TIE_TOUCHES:
            return {}
        who = np.repeat(np.arange(len(tied)), m)
        x = y[who] + L[who] * (np.arange(len(who)) - np.repeat(np.cumsum(m) - m, m))
        nn = n[who]
        num, th = (x * T) % nn, (x * T) // nn
        blk = self.stat_blocks()[tied][who]
        group = g_of[tied]
        o = np.lexsort((j_of[who], th, num, group[who]))  # the ties of a group share n
        w, num, blk = who[o], num[o], blk[o]
        same = np.r_[False, (group[w[1:]] == group[w[:-1]]) & (blk[1:] == blk[:-1])]
        o2 = np.argsort(w, kind="stable")  # each block's touches in order
        w2 = w[o2]
        later = np.r_[False, w2[1:] == w2[:-1]]  # not the block's first touch
        gap = np.r_[0, np.diff(num[o2])] / n[w2]
        out: dict[int, np.ndarray] = {}
        for jj, i in enumerate(stat):
            pick = later & (j_of[w2] == jj)
            if not pick.any():
                continue
            gaps, _ = schedule_gaps(n_of[jj] / L_of[jj], T)
            gi = np.clip(np.searchsorted(gaps, gap[pick] - 1e-9), 0, len(gaps) - 1)
            table = np.zeros((L_of[jj], len(gaps)))
            np.add.at(table, (y[w2[pick]], gi), same[o2][pick])
            out[i] = table
        return out

    def classes(self) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """(distinct pass counts, each tensor's blocks' class). A row covers its tensor's first
        min(n, L) blocks with n / min(n, L) passes; a block's class is the most passes of the rows
        covering it (blocks of different tensors never coincide: the pool aligns every buffer to
        the block)."""
        if self._classes is None:
            by_tensor: dict[int, list[tuple[int, float, int]]] = {}
            for i, (_, blk, _, _, n, _, t) in enumerate(self.rows):
                pre = min(n, len(blk))
                by_tensor.setdefault(t, []).append((pre, n / pre, i))
            pieces = []
            for t, lst in by_tensor.items():
                qs = sorted({pre for pre, _, _ in lst})  # blocks [q_(m-1), q_m) have one class
                vals = [max(p for pre, p, _ in lst if pre >= q) for q in qs]
                pieces.append((t, max(lst)[2], qs, vals))
            pvals = np.array(sorted({v for _, _, _, vals in pieces for v in vals}))
            where, cls, cls_of = [], [], {}
            for t, i, qs, vals in pieces:
                c = np.repeat(np.searchsorted(pvals, vals), np.diff([0] + qs))
                cls_of[t] = c
                where.append(self.row_sets(i)[:qs[-1]])
                cls.append(c)
            self._blocks = np.concatenate(where), np.concatenate(cls)  # (set, class) of the op's classed blocks
            self._classes = (pvals, cls_of)
        return self._classes

    def single_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per op set: the class of its blocks, their count (as a float and as an integer) and
        whether they are of several classes (then class and count are those of the first). A set
        of one class's product with a vector of per-class values is its count times that class's
        value: one rounding, as in the dot product, whose other terms are zeros."""
        if self._single is None:
            self.classes()
            where, cls = self._blocks
            lo = np.full(self.n, np.iinfo(np.int64).max)
            hi = np.zeros(self.n, dtype=np.int64)
            np.minimum.at(lo, where, cls)  # (the rows look up no set without a classed block)
            np.maximum.at(hi, where, cls)
            k = np.bincount(where, minlength=self.n)  # the set's blocks (of its one class)
            self._single = (lo, k.astype(np.float64), k, hi > lo)
        return self._single

    def mixed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The sets of several classes: each op set's row among them (-1 for others) and their
        blocks per class, as floats and as integers."""
        if self._mixed is None:
            pvals, _ = self.classes()
            several = self.single_class()[3]
            where, cls = self._blocks
            sets = np.flatnonzero(several)
            slot = np.full(self.n, -1, dtype=np.int64)
            slot[sets] = np.arange(len(sets))
            inside = several[where]
            C = len(pvals)
            table = np.bincount(slot[where[inside]] * C + cls[inside], minlength=len(sets) * C).reshape(len(sets), C)
            self._mixed = (slot, table.astype(np.float64), table)
        return self._mixed


def _ranks(x: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values of ``x`` in order, each element's rank among them), ``order`` sorting ``x``."""
    ranked = x[order]
    first = np.empty(len(x), dtype=bool)
    first[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=first[1:])
    rank = np.empty(len(x), dtype=np.int64)
    rank[order] = np.cumsum(first) - 1
    return ranked[first], rank


class MemoryModeCache:
    """Direct-mapped DRAM cache state plus the pool that decides where tensors live."""

    def __init__(self, cache_bytes: int, block: int, page_bytes: int = 4096, seed: int = 0):
        self.block = block
        self.n_sets = max(1, cache_bytes // block)
        self.per_page = max(1, page_bytes // block)  # blocks of one page: consecutive sets
        self.seed = seed
        self.pool = SizeClassPool(align=block)
        self.addrs: dict[int, list[np.ndarray]] = {}  # tensor -> address chunks (LIFO)
        self.unit: dict[int, int] = {}
        self._geometry: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}  # tensor -> (blocks, labels, bytes)
        # each set's (block + 1) * 2 + dirty, 0 for an empty set: one random access reads tag and
        # dirty bit, int32 while the pool's blocks allow. While the pool is small beside the cache
        # (``COMPACT_SHARE``) only the sets its blocks can map to are kept, labelled by their rank
        # (``_label_of``: block -> label), so a 2.2 GB pool in a 192 GB cache keeps ~2.5 MB of state, not
        # 188 MB a new process must fault in; ranks keep the sets' order, so lookups and their
        # results are those of the whole array. Past it, the whole array and labels are the sets.
        self._state = np.zeros(0, dtype=np.int32)
        self._known = np.zeros(0, dtype=np.int64)  # the sets the labels stand for, in order
        self._label_of: np.ndarray | None = np.zeros(0, dtype=np.int64)
        if self.n_sets < COMPACT_SHARE * COMPACT_SMALLEST:  # small enough to keep whole
            self._state, self._label_of = self._whole(), None
        self._schedules: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._schedule_size = 0

    def _whole(self) -> np.ndarray:
        """Every set's state (a copy while only the pool's sets are kept)."""
        if self._label_of is None:
            return self._state
        whole = np.zeros(self.n_sets, dtype=self._state.dtype)
        whole[self._known] = self._state
        return whole

    @property
    def tags(self) -> np.ndarray:
        """The block resident in each set, -1 where none (a copy)."""
        return (self._whole() >> 1).astype(np.int64) - 1

    @property
    def dirty(self) -> np.ndarray:
        """Whether each set's line is dirty (a copy)."""
        return (self._whole() & 1).astype(bool)

    def _cover(self, blocks: int) -> None:
        """Make the labels cover blocks [0, ``blocks``) (at least twice as many as before), or keep
        the whole array once they pass ``1 / COMPACT_SHARE`` of the sets. The new blocks' sets are
        sorted and merged with the kept ones; labels change, so the tensors' kept geometry is dropped."""
        old = self._label_of
        if old is None or blocks <= len(old):
            return
        cap = max(blocks, 2 * len(old))
        if cap * COMPACT_SHARE > self.n_sets:
            self._state, self._label_of = self._whole(), None
        else:  # sorts, not numpy's hashing unique or random searchsorted (both slower here)
            new = page_sets(np.arange(len(old), cap, dtype=np.int64), self.n_sets, self.per_page, self.seed)
            uniq, new_rank = _ranks(new, np.argsort(new))
            both = np.concatenate([self._known, uniq])
            known, rank = _ranks(both, np.argsort(both, kind="stable"))  # two sorted runs: one merge
            label_of = np.empty(cap, dtype=np.int64)
            kept = rank[:len(self._known)]  # the kept sets' new labels
            label_of[:len(old)] = kept[old]
            label_of[len(old):] = rank[len(self._known):][new_rank]
            state = np.zeros(len(known), dtype=self._state.dtype)
            state[kept] = self._state
            self._state, self._known, self._label_of = state, known, label_of
        self._geometry.clear()

    def _labels(self, blocks: np.ndarray) -> np.ndarray:
        """Each block's set as the tag array indexes it (its rank among the kept sets, or the set)."""
        if self._label_of is not None and len(blocks):
            self._cover(int(blocks.max()) + 1)  # blocks past the pool's top: only direct calls
        if self._label_of is None:
            return self.sets(blocks)
        return self._label_of[blocks]

    def _resident(self, sets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(block, dirty) of the line in each of ``sets``, -1 where none."""
        v = self._state[sets]
        return (v >> 1).astype(np.int64) - 1, (v & 1).astype(bool)

    def _set_lines(self, sets: np.ndarray, tags: np.ndarray, dirty: np.ndarray) -> None:
        """Make ``tags`` (with their dirty bits) the lines of ``sets``."""
        top = (self.pool.top // self.block + 1) * 2 + 1  # above every block's value
        if self._state.dtype != np.int64 and top > np.iinfo(self._state.dtype).max:
            self._state = self._state.astype(np.int64)  # the pool's blocks outgrew int32
        v = tags + 1
        v <<= 1
        v |= dirty
        self._state[sets] = v

    def alloc(self, tensor: int, count: int, unit: int) -> None:
        self.unit[tensor] = unit
        self.addrs.setdefault(tensor, []).append(self.pool.alloc(count, unit))
        self._geometry.pop(tensor, None)

    def free(self, tensor: int, count: int) -> None:
        chunks = self.addrs.get(tensor, [])
        self._geometry.pop(tensor, None)
        while count and chunks:
            c = chunks[-1]
            take = min(count, len(c))
            self.pool.release(c[len(c) - take:], self.unit[tensor])
            if take == len(c):
                chunks.pop()
            else:
                chunks[-1] = c[:len(c) - take]
            count -= take

    def blocks(self, tensor: int) -> np.ndarray:
        chunks = self.addrs.get(tensor)
        if not chunks:
            return np.zeros(0, dtype=np.int64)
        addrs = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
        per = -(-self.unit[tensor] // self.block)
        return ((addrs // self.block)[:, None] + np.arange(per, dtype=np.int64)).reshape(-1)

    def sets(self, blocks: np.ndarray) -> np.ndarray:
        """Cache set of each (virtual) block: its page's random frame, then its place in the page."""
        return page_sets(blocks, self.n_sets, self.per_page, self.seed)

    def _tensor(self, tensor: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(blocks, their sets, bytes) of a live tensor, kept until it is allocated or freed again
        (ops read and write the same tensors over and over; the arrays are never written to)."""
        g = self._geometry.get(tensor)
        if g is None:
            blk = self.blocks(tensor)
            g = (blk, self._labels(blk), sum(len(c) for c in self.addrs[tensor]) * self.unit[tensor])
            self._geometry[tensor] = g
        return g

    def _schedule(self, n: int, L: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
        """``_row_schedule``'s (local time, thread), kept for the row shapes an op repeats (a
        bounded number of touches in all; the arrays are never written to)."""
        k = (n, L, threads)
        got = self._schedules.get(k)
        if got is None:
            got = _row_schedule(n, L, threads)
            size = len(got[0])
            if size <= SCHEDULE_KEEP:
                while self._schedules and self._schedule_size + size > SCHEDULE_KEEP:
                    old = self._schedules.pop(next(iter(self._schedules)))  # the oldest
                    self._schedule_size -= len(old[0])
                self._schedules[k] = got
                self._schedule_size += size
        return got

    def _lookup(self, blocks: np.ndarray, writes: np.ndarray, sets: np.ndarray | None = None,
                with_prev: bool = False, order: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """Look blocks up strictly in order of the array (each sees the ones before it, in the same
        call too); ``writes`` marks stores (they leave their line dirty). Returns per block (hit,
        dirty victim written back); the tag array ends as after the last block. With ``with_prev``
        also the lookup order by set (order, sorted sets, first of its set, hits in that order) and
        the sets' final state (sets, tags, dirty), which the caller writes to the tag array.
        Works run by run: a run is one block's consecutive touches in one set."""
        n = len(blocks)
        if sets is None:
            sets = self._labels(blocks)
        if order is None:  # ``order``: the caller's permutation by set, in order within a set
            order = np.argsort(sets, kind="stable")
        s, b, w = sets.take(order), blocks.take(order), writes.take(order)
        first = np.empty(n, dtype=bool)
        first[:1] = True
        np.not_equal(s[1:], s[:-1], out=first[1:])
        fi = np.flatnonzero(first)
        sf = s[fi]  # the sets, in order
        tag0, dirty0 = self._resident(sf)  # the line resident in each set before the call
        hit = np.empty(n, dtype=bool)  # the block is the one before it in its set
        np.equal(b[1:], b[:-1], out=hit[1:])
        hit[fi] = tag0 == b[fi]
        start = ~hit
        start[fi] = True  # runs of one block in one set; a run may continue the resident line
        starts = np.flatnonzero(start)
        run_dirty = np.logical_or.reduceat(w, starts)
        fo = np.flatnonzero(first[starts])  # each set's first run
        hit0 = hit[fi]
        run_dirty[fo] |= hit0 & dirty0  # the run continues the line already in the set
        # a miss evicts the run before it in its set, or the line resident before the call
        victim_run = np.empty(len(starts), dtype=bool)
        victim_run[1:] = run_dirty[:-1]
        victim_run[fo] = ~hit0 & dirty0 & (tag0 >= 0)
        last = np.empty(len(fo), dtype=np.int64)  # each set's last run
        last[:-1] = fo[1:] - 1
        last[-1:] = len(starts) - 1
        end_tag, end_dirty = b[starts[last]], run_dirty[last]
        if not with_prev:
            self._set_lines(sf, end_tag, end_dirty)
        h = np.empty(n, dtype=bool)
        h[order] = hit
        victim = np.zeros(n, dtype=bool)
        victim[starts] = victim_run
        v = np.empty(n, dtype=bool)
        v[order] = victim
        if not with_prev:
            return h, v
        return h, v, (order, s, first, hit, sf, end_tag, end_dirty)

    def op_traffic(self, tensors: np.ndarray, writes: np.ndarray, nbytes: np.ndarray, threads: int = 1,
                   rfo: bool = True) -> MMTraffic:
        """Traffic of one op's access rows (bytes already filtered by the CPU cache), its streams
        run by ``threads`` threads; ``rfo``: its stores read their lines first (not streaming stores)."""
        self._cover(self.pool.top // self.block)  # before any tensor's labels are read: they may change
        rows = []
        for r, (t, w, b) in enumerate(zip(tensors.tolist(), writes.tolist(), nbytes.tolist())):
            if b <= 0 or int(t) not in self.addrs:
                continue
            blk, st, tensor_bytes = self._tensor(int(t))
            if not len(blk):
                continue
            passes = b / tensor_bytes
            n = max(1, int(round(passes * len(blk))))  # touches, b / n bytes each
            rows.append((r, blk, bool(w), float(b), n, st, int(t)))
        out = MMTraffic()
        if not rows:
            return out
        self._check_room(sum(n if exact_row(n, len(blk)) else len(blk) for _, blk, _, _, n, _, _ in rows))
        T = max(1, int(threads))
        R = len(rows)
        seq_blk, seq_set, seq_key, seq_row, counts = [], [], [], [], []
        stat = []
        for i, (r, blk, w, b, n, st, _) in enumerate(rows):
            L = len(blk)
            tau, th = self._schedule(n, L, T)
            if not exact_row(n, L):
                stat.append(i)
            for a in range(0, len(tau), L):  # the blocks in touch order: passes over the tensor
                seq_blk.append(blk[:len(tau) - a])
                seq_set.append(st[:len(tau) - a])
            seq_key.append(tau)
            seq_row.append(th * R + i)  # lockstep: by local time, then thread, then row
            counts.append(len(tau))
        w_of = np.array([rr[2] for rr in rows])
        per_of = np.array([rr[3] / rr[4] for rr in rows])
        tau = np.concatenate(seq_key) if R > 1 else seq_key[0]
        tie = np.concatenate(seq_row) if R > 1 else seq_row[0]
        blocks = np.concatenate(seq_blk) if len(seq_blk) > 1 else seq_blk[0]
        sets = np.concatenate(seq_set) if len(seq_set) > 1 else seq_set[0]
        # one sort by (set, local time, thread, row) when the key fits 63 bits, else two stable ones
        set_bits = max(1, int(self.n_sets - 1).bit_length())
        tie_bits = max(1, int(T * R - 1).bit_length())
        time_bits = 63 - set_bits - tie_bits
        if time_bits >= 24:
            key = sets << (63 - set_bits)
            t = (tau * 2.0 ** time_bits).astype(np.int64)
            t <<= tie_bits
            t |= tie
            key |= t
            order = np.argsort(key)
        else:
            o = np.lexsort((tie, tau))
            order = o[np.argsort(sets[o], kind="stable")]
        wr = np.repeat(w_of, counts)  # by touch
        nb = np.repeat(per_of, counts)
        if stat:
            hit, victim, by_set = self._lookup(blocks, wr, sets, with_prev=True, order=order)
            op_sets = _OpSets(rows, counts, by_set, stat)
            hit = self._hits_between_passes(hit, op_sets, tau, blocks, T)
        else:
            hit, victim = self._lookup(blocks, wr, sets, order=order)
        self._charge(out, hit, victim, wr, nb, rfo)
        if stat:
            for i in stat:
                self._passes(out, rows, i, op_sets, T, rfo)
            self._last_touch(out, rows, stat, op_sets)
        out.misses = int(round(out.pmem_read / LINE))
        return out

    def _check_room(self, touches: int) -> None:
        """Refuse an op whose lookup would not fit this host's free memory, naming the simulation
        block that would leave room (touches scale with 1 / block): numpy's allocations succeed under Linux's
        overcommit and the out-of-memory killer ends the process with no message."""
        need = touches * BYTES_PER_TOUCH
        if need < GUARD_FROM:
            return
        avail = available_memory_bytes()
        if avail is None or need <= avail:
            return
        fit = self.block  # the block whose lookup needs at most half of it (the replay holds more)
        while 2 * touches * BYTES_PER_TOUCH * self.block / fit > avail and fit < 1 << 30:
            fit *= 2
        raise UsageError(f"DRAM cache replay: one op touches {touches:,} simulation blocks of {self.block:,} B; "
                         f"tracking them needs about {need / 1e9:.1f} GB, more than the {avail / 1e9:.1f} GB "
                         f"available here (a larger block needs fewer: --set machine.cache_block_bytes={fit})")

    @staticmethod
    def _hits_between_passes(hit: np.ndarray, op_sets: "_OpSets", tau: np.ndarray, blocks: np.ndarray,
                             T: int) -> np.ndarray:
        """Hits of the looked-up touches as probabilities: the rows of many passes are in the lookup
        at their first touches only, and between a hit and the touch before it in its set (a window
        of local time g) the blocks there whose first touch came earlier come back g r times (r the
        distinct times per unit of local time at which their row touches a block, the touch's own
        block aside) and evict the line: it survives with probability max(0, 1 - g sum r). A block
        whose first touch is still to come has not been touched in the window (the lookup would
        have seen it)."""
        order, first, hit_sorted, set_of = op_sets.order, op_sets.first, op_sets.hit_sorted, op_sets.set_of
        rows, stat = op_sets.rows, op_sets.stat
        sr = np.repeat([touch_times(n / L, T) for n, L in zip(op_sets.stat_n.tolist(), op_sets.stat_L.tolist())],
                       op_sets.stat_L)
        has = np.bincount(np.concatenate([op_sets.row_sets(i) for i in stat]), minlength=op_sets.n) > 0
        h = hit.astype(np.float64)
        j = np.flatnonzero(hit_sorted & ~first & has[set_of])  # hits after the first of their set
        if not len(j):
            return h
        # the rows' first touches, by lookup order
        sq = op_sets.position[np.concatenate([op_sets.base[i] + np.arange(L) for i, L in zip(stat, op_sets.stat_L.tolist())])]
        w = np.zeros(len(order))  # by lookup order: a first touch's rate
        w[sq] = sr
        cs = np.cumsum(w)
        start = np.flatnonzero(first)[set_of[j]]  # the set's first position
        started = cs[j - 1] - np.where(start > 0, cs[np.maximum(start - 1, 0)], 0.0)
        oj = order[j]
        gap = tau[oj] - tau[order[j - 1]]
        # the touch's own block, when a row of many passes touched it first earlier in the set (a
        # touch of a row on a tensor that another such row reads)
        own = 0.0
        shared = [r for r, rr in enumerate(rows) if any(rows[i][6] == rr[6] for i in stat if i != r)]
        if shared:
            row_of = np.searchsorted(np.cumsum(op_sets.counts), oj, side="right")
            mine = np.flatnonzero(np.isin(row_of, shared))
            if len(mine):
                sb = op_sets.stat_blocks()
                o = np.argsort(sb, kind="stable")
                sb, srs, sqs = sb[o], sr[o], sq[o]
                bo = blocks[oj[mine]]
                at = np.minimum(np.searchsorted(sb, bo), len(sb) - 1)
                own = np.zeros(len(j))
                own[mine] = np.where((sb[at] == bo) & (sqs[at] < j[mine]), srs[at], 0.0)
        h[oj] = np.maximum(0.0, 1.0 - gap * (started - own))
        return h

    @staticmethod
    def _charge(out: MMTraffic, hit: np.ndarray, victim: np.ndarray, wr: np.ndarray, nb: np.ndarray,
                rfo: bool) -> None:
        """Bytes of looked-up touches by the rules of the module docstring (``hit``: a probability
        where rows of many passes may have evicted the line in between)."""
        if hit.dtype == bool:  # the same elements as the products below: nb or 0.0
            hb = float(np.where(hit, nb, 0.0).sum())
            load_miss = float(np.where(hit | wr, 0.0, nb).sum())
        else:
            hb = float((nb * hit).sum())
            load_miss = float((nb * (1 - hit) * ~wr).sum())
        total = float(nb.sum())
        mb = total - hb
        wb = float(nb[victim].sum())
        store = float(nb[wr].sum())
        store_miss = mb - load_miss
        out.load_bytes += total - store
        out.hit_bytes += hb
        out.miss_bytes += mb
        out.writeback_bytes += wb
        out.pmem_write += wb
        out.load_pmem_bytes += load_miss
        out.dram_read += total  # every touch reads its line's tag (and data)
        out.dram_write += mb  # fill (or write-allocate)
        if rfo:
            out.rfo_bytes += store
            out.rfo_pmem_bytes += store_miss
            out.pmem_read += mb
            out.tag_check_bytes += store
            out.dram_read += store  # the store's own tag check after its RFO
            out.dram_write += store
        else:
            out.pmem_read += load_miss
            out.tag_check_bytes += store
            out.dram_write += store - store_miss  # write hits; misses wrote on allocate

    def _last_touch(self, out: MMTraffic, rows: list, stat: list[int], op_sets: "_OpSets") -> None:
        """Rows of many passes touch their blocks until the op ends: each set they share ends the op
        holding one of their blocks (of the row with most passes, the last its final pass touches),
        and a dirty line found there by the exact lookup is written back. Works on the op's sets as
        the lookup left them, then writes them to the tag array."""
        stat = sorted(stat, key=lambda i: rows[i][4] / len(rows[i][1]))  # most passes assigned last
        blk = np.concatenate([rows[i][1] for i in stat])
        st = np.concatenate([op_sets.row_sets(i) for i in stat])  # as indices into the op's sets
        wr = np.repeat([rows[i][2] for i in stat], [len(rows[i][1]) for i in stat])
        per = np.repeat([rows[i][3] / rows[i][4] for i in stat], [len(rows[i][1]) for i in stat])
        tags, dirty = op_sets.end_tag, op_sets.end_dirty
        old_tag, old_dirty = tags[st], dirty[st]
        tags[st] = blk  # repeated sets: the last assignment stays (numpy assigns in order)
        final = tags[st] == blk  # the one block that ends in its set
        victim = final & (old_tag != blk) & old_dirty & (old_tag >= 0)
        wb = float(per[victim].sum())
        out.writeback_bytes += wb
        out.pmem_write += wb
        dirty[st[final]] = np.where(old_tag[final] == blk[final], old_dirty[final] | wr[final], wr[final])
        self._set_lines(op_sets.sets, tags, dirty)

    @staticmethod
    def _pass_share(op_sets: "_OpSets", i: int, T: int) -> float:
        """The share of row ``i``'s touches after each block's first that hit (see ``_passes``)."""
        _, blk, _, _, n, _, tensor = op_sets.rows[i]
        L = len(blk)
        pvals, cls_of = op_sets.classes()
        where = op_sets.row_sets(i)  # each block's set among the op's sets
        cls = cls_of[tensor][:L]  # each block's class (the most passes a row makes over it)
        one, k_f, k, several = op_sets.single_class()
        one_w, k_fw, k_w = one[where], k_f[where], k[where]
        mix = np.flatnonzero(several[where])  # blocks in sets of several classes: dot products
        if len(mix):
            slot, per_set, counts = op_sets.mixed()  # their blocks per class
            mix_sets = slot[where[mix]]
        gaps, wts = schedule_gaps(n / L, T)
        # a block of p' passes is touched at p' / (threads per offset) distinct local times: the
        # threads that share an offset touch it together, one chance to come between two touches
        times = np.array([touch_times(pv, T) for pv in pvals.tolist()])
        # ties: blocks of the set touched at the same times as this one (itself included), of its
        # class; they are left out of the product below and counted apart after it
        kt, tie_hits = op_sets.tied(T)[i]
        tie = kt > 1
        if tie_hits is not None:
            tie_at = np.flatnonzero(tie)
            tie_survive = np.zeros(len(tie_at))
        survive = np.zeros(L)
        for gi, (g, wt) in enumerate(zip(gaps.tolist(), wts.tolist())):
            if wt <= 0:
                continue
            if g == 0.0:  # no other touch in between: the products below are 0, exp(0) = 1
                survive += wt
                if tie_hits is not None:
                    tie_survive += tie_hits[tie_at, gi]
                continue
            q = np.minimum(1.0, g * times)  # per class of blocks
            sure = q >= 1.0
            logs = np.log1p(-np.where(sure, 0.0, q))
            m_log = logs.take(one_w)
            m_log *= k_fw  # the set's blocks' sum of logs (per_set @ logs)
            if len(mix):  # the rows of the full table's product (BLAS takes each row's dot product alike)
                m_log[mix] = per_set[mix_sets] @ logs
            own = logs.take(cls)
            if tie.any():
                own *= kt
            m_log -= own
            s = np.exp(m_log, out=m_log)
            if sure.any():  # another block of a class sure to come back evicts it (counts: exact in integers)
                sure_in_set = np.where(sure[one_w], k_w, 0)
                if len(mix):
                    sure_in_set[mix] = counts[mix_sets][:, sure].sum(axis=1)
                s[sure_in_set - sure[cls] * kt > 0] = 0.0
            if tie_hits is not None:
                tie_survive += tie_hits[tie_at, gi] * s[tie_at]
            s *= wt
            survive += s
        if tie_hits is not None:  # replayed: the reuses that followed the block's own touch, each
            reuses = (n - tie_at + L - 1) // L - 1  # times the survival of its window against the rest
            survive[tie_at] = tie_survive / np.maximum(reuses, 1)
        elif tie.any():  # too many to replay: k blocks' touches at one time alternate in thread order (every
            # one misses where threads share an offset); a block last at one time and first at the next keeps
            # its line, as if the order were random (1 / k^2)
            alone = len(schedule_offsets(n / L, T)) == T
            survive[tie] *= 1.0 / kt[tie] ** 2 if alone else 0.0
        return float(survive.mean()) if len(survive) else 1.0

    def _passes(self, out: MMTraffic, rows: list, i: int, op_sets: "_OpSets", T: int, rfo: bool) -> None:
        """Touches of row ``i`` after each block's first: a hit unless a block sharing its set was
        touched in the window since (probability min(1, g p' / m) per block of p' passes that m
        threads at a time touch)."""
        _, blk, w, b, n, _, tensor = rows[i]
        L = len(blk)
        extra = n - L
        if extra <= 0:
            return
        share = op_sets.shares.get((tensor, n))  # a tensor read and written alike: one computation
        if share is None:
            share = op_sets.shares[(tensor, n)] = self._pass_share(op_sets, i, T)
        per = b / n
        hb = extra * per * share
        mb = extra * per - hb
        out.hit_bytes += hb
        out.miss_bytes += mb
        out.dram_read += extra * per
        out.dram_write += mb
        if w:
            out.writeback_bytes += mb  # the block was dirty when the conflict evicted it
            out.pmem_write += mb
            out.tag_check_bytes += extra * per
            if rfo:
                out.rfo_bytes += extra * per
                out.rfo_pmem_bytes += mb
                out.pmem_read += mb
                out.dram_read += extra * per
                out.dram_write += extra * per
            else:
                out.dram_write += extra * per - mb
        else:
            out.pmem_read += mb
            out.load_pmem_bytes += mb
            out.load_bytes += extra * per
