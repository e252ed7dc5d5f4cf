"""A rollout's progress as it changes: one redrawn bar on a terminal, a line per change in a CI
log (where a redrawn line would print every frame)."""

from typing import TextIO

from cli.waiting import rollout_line

WIDTH = 30


class Progress:
    def __init__(self, stream: TextIO, *, live: bool):
        self.stream, self.live = stream, live
        self.last = ""
        self.drawn = False

    def show(self, rollout: dict) -> None:
        line = rollout_line(rollout)
        if self.live:
            done = round(WIDTH * rollout.get("progress", 0) / 100)
            bar = "#" * done + "-" * (WIDTH - done)
            self.stream.write(f"\r\x1b[2K[{bar}] {line}")
            self.stream.flush()
            self.drawn = True
        elif line != self.last:
            self.stream.write(line + "\n")
            self.stream.flush()
        self.last = line

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
