"""Pure: buffered rows per partition, when a partition must be flushed, which messages to settle.

A message may carry rows of several partitions (a batch across an hour boundary): it is acked
once every partition holding its rows is stored, and nak'ed as soon as one of them fails.
"""

from dataclasses import dataclass, field

from modelops_data_collector.records import PartitionKey, Row


@dataclass(eq=False)
class Delivery:
    """One message: its delivery tokens (a redelivery adds one), partitions still to store it."""

    seq: int
    tokens: list[object]
    waiting: int = 0
    failed: bool = False


@dataclass
class Pending:
    """One partition's rows not yet stored, and the messages they came from."""

    key: PartitionKey
    opened_at: float
    rows: list[Row] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    size: int = 0

    @property
    def tokens(self) -> list[object]:
        return [t for d in self.deliveries for t in d.tokens]

    @property
    def first_seq(self) -> int:
        return min(d.seq for d in self.deliveries)

    @property
    def last_seq(self) -> int:
        return max(d.seq for d in self.deliveries)


@dataclass
class Buffer:
    """Rows by partition; a partition is due when big enough or old enough."""

    max_rows: int
    max_bytes: int
    max_age_s: float
    parts: dict[PartitionKey, Pending] = field(default_factory=dict)
    unsettled: dict[int, Delivery] = field(default_factory=dict)

    def add(self, row: Row, token: object, size: int, now: float) -> Pending | None:
        """Buffer a one-row message; the partition if full."""
        full = self.add_message([row], row.seq, token, size, now)
        return full[0] if full else None

    def add_message(
        self, rows: list[Row], seq: int, token: object, size: int, now: float
    ) -> list[Pending]:
        """Buffer a message's rows (a redelivery of a message not yet settled only joins its
        acknowledgement); the partitions that became full."""
        known = self.unsettled.get(seq)
        if known is not None:
            known.tokens.append(token)
            return []
        delivery = self.unsettled[seq] = Delivery(seq, [token])
        groups: dict[PartitionKey, list[Row]] = {}
        for row in rows:
            groups.setdefault(row.partition, []).append(row)
        full = []
        for key, group in groups.items():
            pending = self.parts.get(key)
            if pending is None:
                pending = self.parts[key] = Pending(key, now)
            pending.rows.extend(group)
            pending.deliveries.append(delivery)
            pending.size += size * len(group) // len(rows)
            delivery.waiting += 1
            if len(pending.rows) >= self.max_rows or pending.size >= self.max_bytes:
                full.append(self.parts.pop(key))
        return full

    def stored(self, pending: Pending) -> list[object]:
        """The partition is stored: the tokens of the messages now wholly stored (to ack)."""
        out = []
        for d in pending.deliveries:
            d.waiting -= 1
            if d.waiting == 0 and not d.failed:
                self.unsettled.pop(d.seq, None)
                out.extend(d.tokens)
        return out

    def failed(self, pending: Pending) -> list[object]:
        """The partition was not stored: the tokens of its messages not yet given up (to nak)."""
        out = []
        for d in pending.deliveries:
            d.waiting -= 1
            if not d.failed:
                d.failed = True
                self.unsettled.pop(d.seq, None)
                out.extend(d.tokens)
        return out

    def due(self, now: float) -> list[Pending]:
        """Take the partitions whose oldest row waited long enough."""
        keys = [k for k, p in self.parts.items() if now - p.opened_at >= self.max_age_s]
        return [self.parts.pop(k) for k in keys]

    def drain(self) -> list[Pending]:
        """Take everything (shutdown)."""
        out = list(self.parts.values())
        self.parts.clear()
        return out

    @property
    def rows(self) -> int:
        return sum(len(p.rows) for p in self.parts.values())
