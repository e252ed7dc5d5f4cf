"""Durations in words, for pages and messages: one way across Runway."""


def format_duration(seconds: float | None) -> str:
    """A duration for people: "40 s", "12 min", "3 h 20 min", "2 d 4 h" (two units at most)."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
