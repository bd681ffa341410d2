"""The balancer: fewest outstanding requests first, ties in turn, failed replicas passed
over for a moment, and the time-weighted load the autoscaler reads."""

from __future__ import annotations

from mvi.manager.gateway.balancer import Balancer, Endpoint

A, B, C = (Endpoint("127.0.0.1", port) for port in (1001, 1002, 1003))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_least_loaded_replica_is_picked_and_ties_go_round() -> None:
    balancer = Balancer()
    balancer.set_endpoints("v", [A, B, C])
    assert {balancer.pick("v") for _ in range(3)} == {A, B, C}
    balancer.acquire("v", A)
    balancer.acquire("v", B)
    assert balancer.pick("v") == C
    balancer.acquire("v", C)
    balancer.acquire("v", C)
    assert balancer.pick("v") in (A, B)
    balancer.release("v", C)
    balancer.release("v", C)
    assert balancer.pick("v") == C


def test_tried_replicas_are_excluded_and_none_is_left_at_the_end() -> None:
    balancer = Balancer()
    balancer.set_endpoints("v", [A, B])
    assert balancer.pick("v", [A]) == B
    assert balancer.pick("v", [A, B]) is None
    assert balancer.pick("unknown") is None


def test_a_failed_replica_is_passed_over_until_its_pause_ends() -> None:
    clock = Clock()
    balancer = Balancer(clock=clock, failure_pause=1.0)
    balancer.set_endpoints("v", [A, B])
    balancer.failed("v", A)
    assert {balancer.pick("v") for _ in range(4)} == {B}
    assert balancer.pick("v", [B]) == A  # the last one left is still tried
    clock.now = 1.5
    assert {balancer.pick("v") for _ in range(4)} == {A, B}


def test_new_endpoints_keep_the_counts_of_those_that_stay() -> None:
    balancer = Balancer()
    balancer.set_endpoints("v", [A, B])
    balancer.acquire("v", A)
    balancer.set_endpoints("v", [A, C])
    assert balancer.endpoints("v") == [A, C]
    assert balancer.pick("v") == C
    balancer.forget("v")
    assert balancer.endpoints("v") == [] and balancer.inflight("v") == 0


def test_the_load_is_the_time_weighted_mean_in_flight() -> None:
    clock = Clock()
    balancer = Balancer(clock=clock)
    balancer.set_endpoints("v", [A])
    balancer.acquire("v", A)
    balancer.acquire("v", A)
    clock.now = 1.0
    balancer.release("v", A)
    clock.now = 2.0
    assert balancer.take_load("v") == 1.5  # 2 for a second, then 1 for a second
    clock.now = 4.0
    assert balancer.take_load("v") == 1.0
    balancer.release("v", A)
    clock.now = 5.0
    assert balancer.take_load("v") == 0.0
