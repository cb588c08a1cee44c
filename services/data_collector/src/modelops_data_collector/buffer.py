"""Pure: buffered rows per partition, and when a partition must be flushed."""

from dataclasses import dataclass, field

from modelops_data_collector.records import PartitionKey, Row


@dataclass
class Pending:
    """One partition's rows not yet stored, and the messages to acknowledge once they are."""

    key: PartitionKey
    opened_at: float
    rows: list[Row] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)
    tokens: list[object] = field(default_factory=list)
    size: int = 0

    @property
    def first_seq(self) -> int:
        return min(self.seqs)

    @property
    def last_seq(self) -> int:
        return max(self.seqs)


@dataclass
class Buffer:
    """Rows by partition; a partition is due when big enough or old enough."""

    max_rows: int
    max_bytes: int
    max_age_s: float
    parts: dict[PartitionKey, Pending] = field(default_factory=dict)

    def add(self, row: Row, token: object, size: int, now: float) -> Pending | None:
        """Buffer a row (a redelivered sequence is only acknowledged); the partition if full."""
        key = row.partition
        pending = self.parts.get(key)
        if pending is None:
            pending = self.parts[key] = Pending(key, now)
        pending.tokens.append(token)
        if row.seq not in pending.seqs:
            pending.seqs.add(row.seq)
            pending.rows.append(row)
            pending.size += size
        if len(pending.rows) >= self.max_rows or pending.size >= self.max_bytes:
            return self.parts.pop(key)
        return None

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
