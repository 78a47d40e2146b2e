"""A small layer IR: a graph of nodes in topological order, activations laid out (C, H, W).

Batch-norm is folded into the preceding convolution when a model is built, so the IR has no
batch-norm node. Each node's ``inputs`` index earlier nodes; node 0 is the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


# kind -> (levels consumed, refreshes to the top level)
LEVEL_COST = {
    "input": (0, False), "conv2d": (1, False), "dwconv2d": (1, False), "dense": (1, False),
    "avgpool": (1, False), "gavgpool": (1, False), "add": (0, False), "flatten": (0, False),
    "relu": (0, True), "relu6": (0, True), "maxpool": (0, True), "square": (1, False),
    "poly": (2, False), "bias": (0, False),
}


@dataclass
class Node:
    """One layer: ``kind`` from LEVEL_COST, its attributes and (folded) weights."""

    name: str
    kind: str
    inputs: list[int]
    shape: tuple[int, ...]  # output shape per image
    weight: np.ndarray | None = None  # conv (OC, IC, KH, KW); dwconv (C, 1, KH, KW); dense (OUT, IN)
    bias: np.ndarray | None = None
    stride: int = 1
    padding: int = 0
    kernel: int = 1  # pooling window (gavgpool: H*W of its input)
    coeffs: tuple[float, ...] = ()  # poly: c0 + c1 x + c2 x^2

    def macs(self) -> int:
        """Multiply-accumulates per image (pooling counted as MACs with constant weights)."""
        out = int(np.prod(self.shape))
        if self.kind == "conv2d":
            return out * int(np.prod(self.weight.shape[1:]))
        if self.kind == "dwconv2d":
            return out * int(np.prod(self.weight.shape[2:]))
        if self.kind == "dense":
            return int(self.weight.size)
        if self.kind == "avgpool":
            return out * self.kernel * self.kernel
        if self.kind == "gavgpool":
            return out * self.kernel  # kernel holds H*W of the input
        return 0


@dataclass
class Graph:
    """A model: name, its build configuration and nodes."""

    name: str
    config: dict
    nodes: list[Node] = field(default_factory=list)

    def add(self, node: Node) -> int:
        for i in node.inputs:
            if not 0 <= i < len(self.nodes):
                raise ValueError(f"node {node.name}: input {i} does not exist")
        self.nodes.append(node)
        return len(self.nodes) - 1

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.nodes[0].shape

    def consumers(self) -> list[list[int]]:
        users: list[list[int]] = [[] for _ in self.nodes]
        for j, n in enumerate(self.nodes):
            for i in n.inputs:
                users[i].append(j)
        return users

    def last_use(self) -> list[int]:
        """Index of the last node that reads each node's output (the output node: itself)."""
        last = list(range(len(self.nodes)))
        for j, n in enumerate(self.nodes):
            for i in n.inputs:
                last[i] = max(last[i], j)
        return last

    def depth(self) -> int:
        """Most rescales any path needs between two refreshes (the levels the primes must hold)."""
        used = [0] * len(self.nodes)
        worst = 0
        for j, n in enumerate(self.nodes):
            cost, refresh = LEVEL_COST[n.kind]
            before = max((used[i] for i in n.inputs), default=0)
            worst = max(worst, before + cost)
            used[j] = 0 if refresh else before + cost
        return worst

    def split_bias(self) -> "Graph":
        """The graph as the reference stack runs it: every weighted layer's bias becomes a node of
        its own (nGraph's Add after Convolution/Dot), so the layer's output and the biased copy
        are separate tensors. Returns a new graph; this one is unchanged."""
        g = Graph(self.name, self.config)
        where: list[int] = []
        for n in self.nodes:
            ins = [where[i] for i in n.inputs]
            if n.kind in ("conv2d", "dwconv2d", "dense") and n.bias is not None:
                core = g.add(Node(n.name, n.kind, ins, n.shape, weight=n.weight, bias=None, stride=n.stride,
                                  padding=n.padding, kernel=n.kernel))
                where.append(g.add(Node(f"{n.name}_bias", "bias", [core], n.shape, bias=n.bias)))
            else:
                where.append(g.add(Node(n.name, n.kind, ins, n.shape, weight=n.weight, bias=n.bias,
                                        stride=n.stride, padding=n.padding, kernel=n.kernel, coeffs=n.coeffs)))
        return g

    def summary(self) -> list[dict]:
        return [{"index": j, "name": n.name, "kind": n.kind, "shape": list(n.shape),
                 "inputs": n.inputs} for j, n in enumerate(self.nodes)]

