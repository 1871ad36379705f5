"""A scalar reverse-mode autograd engine: the `Value` taught in notebook 02.

Every operation stores, next to its forward result, the *local* derivatives of
its output with respect to each input (a tuple of floats).  `backward()` then
walks the graph once in reverse topological order and applies the chain rule:

    child.grad += local_derivative * node.grad

Design notes
------------
* No closures per node and no sets during the sort: children live in a tuple,
  local derivatives in a tuple, and visited nodes are stamped with an integer.
* The topological sort is iterative, so graphs of 100,000+ nodes work without
  hitting Python's recursion limit.
* Calling ``backward()`` twice: interior nodes are reset at the start of every
  call, leaves *accumulate*.  So two calls leave every leaf with exactly twice
  the gradient (as PyTorch does for leaf tensors).  Call ``zero_grad()`` on the
  output first if you want a fresh gradient.
"""
from __future__ import annotations

import math
from numbers import Real

__all__ = ["Value"]

_stamp = 0  # incremented on every traversal; a node is "visited" when its _mark equals it


def _next_stamp() -> int:
    global _stamp
    _stamp += 1
    return _stamp


def _as_float(x, what="Value"):
    if isinstance(x, bool) or not isinstance(x, Real):
        raise TypeError(f"{what} needs a real number, got {type(x).__name__}: {x!r}")
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"{what} got a non-finite number ({x}); check the input or lower the learning rate")
    return x


class Value:
    """A scalar that remembers how it was computed.

    >>> a = Value(2.0); b = Value(-3.0)
    >>> c = a * b + a        # c.data == -4.0
    >>> c.backward()         # a.grad == b + 1 == -2.0, b.grad == a == 2.0
    """

    __slots__ = ("data", "grad", "_prev", "_local", "_op", "label", "_mark")

    def __init__(self, data, _prev=(), _local=(), _op="", label=""):
        self.data = data if type(data) is float and (_prev or math.isfinite(data)) else _as_float(data)
        self.grad = 0.0
        self._prev = _prev      # tuple of input Values, in a fixed order
        self._local = _local    # tuple of d(self)/d(input), one per input
        self._op = _op
        self.label = label
        self._mark = 0

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # ---- binary operations: forward value and local derivatives side by side ----
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1.0, 1.0), "+")

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data), "*")

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            b = other.data
            if a <= 0:
                raise ValueError(f"Value ** Value needs a positive base (got base {a}); "
                                 "d(a**b)/db = a**b * ln(a) is undefined otherwise")
            out = a ** b
            return Value(out, (self, other), (b * a ** (b - 1), out * math.log(a)), "**")
        b = _as_float(other, "exponent")
        if a == 0 and b < 1:
            raise ZeroDivisionError(f"0 ** {b} has no finite derivative")
        if a < 0 and not b.is_integer():
            raise ValueError(f"({a:g}) ** {b:g} is not a real number")
        return Value(a ** b, (self,), (b * a ** (b - 1),), f"**{b:g}")

    def __rpow__(self, other):  # number ** Value
        return Value(other) ** self

    def __neg__(self):
        return Value(-self.data, (self,), (-1.0,), "neg")

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __truediv__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        if other.data == 0:
            raise ZeroDivisionError("division of a Value by zero")
        return self * other ** -1.0

    def __rtruediv__(self, other):
        return Value(other) / self

    __radd__ = __add__
    __rmul__ = __mul__

    # ---- unary functions ----
    def exp(self):
        try:
            out = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp({self.data:g}) overflows a float; inputs this large usually mean "
                                "the learning rate is too high") from None
        return Value(out, (self,), (out,), "exp")

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data:g}")
        return Value(math.log(self.data), (self,), (1.0 / self.data,), "log")

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1.0 - t * t,), "tanh")

    def sigmoid(self):
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return Value(s, (self,), (s * (1.0 - s),), "sigmoid")

    def relu(self):
        x = self.data
        # relu'(0) = 0 by convention (as in PyTorch)
        return Value(x if x > 0 else 0.0, (self,), (1.0 if x > 0 else 0.0,), "relu")

    # ---- graph traversal ----
    def topo(self):
        """All nodes of the graph, inputs before outputs (iterative DFS)."""
        stamp = _next_stamp()
        order = []
        self._mark = stamp
        stack = [(self, iter(self._prev))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child._mark != stamp:
                    child._mark = stamp
                    stack.append((child, iter(child._prev)))
                    break
            else:
                stack.pop()
                order.append(node)
        return order

    def backward(self, grad: float = 1.0):
        """Fill ``.grad`` of every node with d(self)/d(node).

        Interior nodes are reset first; leaves accumulate (see module docstring).
        """
        order = self.topo()
        for node in order:
            if node._prev:
                node.grad = 0.0
        self.grad += float(grad)      # interior outputs were just reset to 0; a leaf accumulates
        for node in reversed(order):
            g = node.grad
            if g == 0.0:
                continue
            for child, local in zip(node._prev, node._local):
                child.grad += local * g

    def zero_grad(self):
        """Set ``.grad = 0`` on every node of the graph that produced this Value."""
        for node in self.topo():
            node.grad = 0.0
