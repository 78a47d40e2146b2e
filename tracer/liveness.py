"""When each tensor dies: liveness over the graph, with flatten sharing its input's ciphertexts."""

from __future__ import annotations

from hetier.models.ir import Graph


class Liveness:
    """``root[j]``: the node whose ciphertexts node j's output is; ``last[r]``: the last node that
    reads root r. The encrypted input (the caller's) and the output live until teardown."""

    def __init__(self, graph: Graph):
        n = len(graph.nodes)
        self.root = list(range(n))
        for j, node in enumerate(graph.nodes):
            if node.kind == "flatten":
                self.root[j] = self.root[node.inputs[0]]
        last_use = graph.last_use()
        self.last = {r: 0 for r in self.root}
        for j, r in enumerate(self.root):
            self.last[r] = max(self.last[r], last_use[j])
        self.last[self.root[0]] = n
        self.last[self.root[-1]] = n

    def dies_at(self, i: int, j: int) -> bool:
        """Is node j the last reader of node i's ciphertexts?"""
        return self.last[self.root[i]] == j

    def aliases(self, i: int) -> list[int]:
        return [a for a, r in enumerate(self.root) if r == self.root[i]]
