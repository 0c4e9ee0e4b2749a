from pathlib import Path

import numpy as np
import pytest

from bench.solomon_instances import check_routes, read_instance, resolve_instance, to_problem, total_distance

# depot at (0, 0); customers 1 at (3, 4) and 2 at (6, 8): 5 apart along one line
TINY = """TINY

VEHICLE
NUMBER     CAPACITY
  2          10

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0       0          0          0          0        100          0
    1       3          4          4          0         10          2
    2       6          8          5         10         20          2
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "TINY.txt"
    path.write_bytes(TINY.replace("\n", "\r\n").encode())
    return path


def test_c101_header_and_first_rows() -> None:
    """C101 has 25 vehicles of capacity 200, the depot and 100 customers, and the published first rows."""
    instance = read_instance(resolve_instance("C101"))
    assert (instance.name, instance.vehicles, instance.capacity) == ("C101", 25, 200)
    assert len(instance.demand) == 101
    first = np.column_stack([instance.coords, instance.demand, instance.ready, instance.due, instance.service])[:3]
    assert first.tolist() == [[40, 50, 0, 0, 1236, 0], [45, 68, 10, 912, 967, 90], [45, 70, 30, 825, 870, 90]]


def test_to_problem_scales_and_keeps_every_location() -> None:
    """C101 becomes 25 shifts, 100 visits and a 101-location matrix of ceil(euclid * 1000)."""
    problem = to_problem(read_instance(resolve_instance("C101")))
    assert (len(problem.shifts), len(problem.visits), problem.matrix.size) == (25, 100, 101)
    assert problem.matrix.durations[0, 1] == 18_682  # sqrt(5**2 + 18**2) = 18.6815...


def test_checker_accepts_a_feasible_plan(tiny: Path) -> None:
    """One route 0-1-2-0 meets capacity, windows and the depot's due date in double precision."""
    instance = read_instance(tiny)
    assert check_routes(instance, [[1, 2]]) == []
    assert total_distance(instance, [[1, 2]]) == pytest.approx(20.0)


def test_checker_rejects_a_window_violation(tiny: Path) -> None:
    """Serving 2 before 1 starts customer 1 at 27, past its due date of 10."""
    violations = check_routes(read_instance(tiny), [[2, 1]])
    assert len(violations) == 1 and "customer 1" in violations[0]
