"""How a group booking is cut into parts: as few as a car's pumps can run side by side."""

from __future__ import annotations

from collections.abc import Sequence


def split_for_pumps[T](items: Sequence[T], pumps: int, uses_pump: Sequence[bool] | None = None) -> list[list[T]]:
    """Cut a group into as few parts as a car with ``pumps`` pumps can run, each part's drips side
    by side, the parts as even as can be (so a smaller car fits them too), in booking order.

    ``uses_pump[i]`` says whether patient i's service needs a pump (a vitamin shot does not); by
    default every one does. A group that needs no pump at all is one part.
    """
    if pumps < 1:
        raise ValueError("pumps must be at least 1")
    flags = list(uses_pump) if uses_pump is not None else [True] * len(items)
    drips = sum(flags)
    count = max(1, -(-drips // pumps))
    if count == 1:
        return [list(items)]
    # the drips in order, as even as can be; a patient without one joins the smallest part
    sizes = [drips // count + (1 if k < drips % count else 0) for k in range(count)]
    parts: list[list[T]] = [[] for _ in range(count)]
    filled = [0] * count
    part = 0
    for item, drip in zip(items, flags, strict=True):
        if drip:
            while filled[part] >= sizes[part]:
                part += 1
            parts[part].append(item)
            filled[part] += 1
        else:
            parts[min(range(count), key=lambda k: len(parts[k]))].append(item)
    return parts
