"""Per locust process: the run it publishes for, its sequence numbers, and its publishes not yet
handed to the master (or, in a local run, to the conductor of the same process)."""

from __future__ import annotations

from loadtests.accounting import Publish
from loadtests.messages import SeqCounter, TopicMix


class ProcessJournal:
    """One per process; users take seqs from it and record what each publish did."""

    def __init__(self) -> None:
        self.run = ""
        self.mix: TopicMix | None = None
        self.counter: SeqCounter | None = None
        self.pending: list[Publish] = []

    def begin(self, run: str, worker_index: int, limit: int, mix: dict[str, float]) -> None:
        self.run = run
        self.mix = TopicMix(mix)
        self.counter = SeqCounter(worker_index, limit)
        self.pending = []

    def end(self) -> None:
        """No more seqs until the next run begins (users that keep running stop)."""
        self.counter = None

    def next_message(self) -> tuple[int, str] | None:
        """(seq, topic) of this process's next message, or None when it may send no more."""
        if self.counter is None or self.mix is None or not self.run:
            return None
        seq = self.counter.next()
        if seq is None:
            return None
        return seq, self.mix.next()

    def record(self, publish: Publish) -> None:
        self.pending.append(publish)

    def take(self) -> list[Publish]:
        taken, self.pending = self.pending, []
        return taken
