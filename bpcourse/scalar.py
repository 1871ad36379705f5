"""A scalar reverse-mode autograd engine: the `Value` taught in notebook 02.

Every operation stores, next to its forward result, the *local* derivatives of
its output with respect to each input (one float per input).  `backward()` then
walks the graph once in reverse topological order and applies the chain rule:

    child.grad += local_derivative * node.grad

Design notes
------------
* No closures per node and no sets during the sort: every operation has at most
  two inputs, so a node keeps them in two slots (``_a``, ``_b``) next to their
  local derivatives (``_da``, ``_db``), and visited nodes are stamped with an
  integer.  One object per node (no tuples) leaves Python's garbage collector a
  third of the objects to track; ``_prev`` and ``_local`` give the tuples back.
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

from .validate import NonFiniteError

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
        raise NonFiniteError(f"{what} got a non-finite number ({x}); check the input or lower the learning rate")
    return x


def _node(data, op, a, da, b=None, db=0.0):
    """A new interior Value (no argument checks, no tuples: the hot path of every operation)."""
    v = _new(Value)
    v.data, v.grad, v._a, v._da, v._b, v._db, v._op, v.label, v._mark = data, 0.0, a, da, b, db, op, "", 0
    return v


_new = object.__new__


class Value:
    """A scalar that remembers how it was computed.

    >>> a = Value(2.0); b = Value(-3.0)
    >>> c = a * b + a        # c.data == -4.0
    >>> c.backward()         # a.grad == b + 1 == -2.0, b.grad == a == 2.0
    """

    __slots__ = ("data", "grad", "_a", "_b", "_da", "_db", "_op", "label", "_mark")

    def __init__(self, data, _prev=(), _local=(), _op="", label=""):
        self.data = data if type(data) is float and (_prev or math.isfinite(data)) else _as_float(data)
        self.grad = 0.0
        if len(_prev) > 2 or len(_local) != len(_prev):
            raise ValueError(f"a Value has at most two inputs, each with one local derivative; "
                             f"got {len(_prev)} inputs and {len(_local)} derivatives")
        self._a, self._da = (_prev[0], _local[0]) if _prev else (None, 0.0)
        self._b, self._db = (_prev[1], _local[1]) if len(_prev) == 2 else (None, 0.0)
        self._op = _op
        self.label = label
        self._mark = 0

    @property
    def _prev(self):
        """The input Values this one was computed from, in a fixed order."""
        return () if self._a is None else (self._a,) if self._b is None else (self._a, self._b)

    @property
    def _local(self):
        """d(self)/d(input) for each input of ``_prev``."""
        return () if self._a is None else (self._da,) if self._b is None else (self._da, self._db)

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # ---- binary operations: forward value and local derivatives side by side ----
    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data + other.data, "+", self, 1.0, other, 1.0)

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data * other.data, "*", self, other.data, other, self.data)

    def __pow__(self, other):
        a = self.data
        if isinstance(other, Value):
            b = other.data
            if a <= 0:
                raise ValueError(f"Value ** Value needs a positive base (got base {a}); "
                                 "d(a**b)/db = a**b * ln(a) is undefined otherwise")
            out = a ** b
            return _node(out, "**", self, b * a ** (b - 1), other, out * math.log(a))
        b = _as_float(other, "exponent")
        if a == 0 and b < 1:
            raise ZeroDivisionError(f"0 ** {b} has no finite derivative")
        if a < 0 and not b.is_integer():
            raise ValueError(f"({a:g}) ** {b:g} is not a real number")
        return _node(a ** b, f"**{b:g}", self, b * a ** (b - 1))

    def __rpow__(self, other):  # number ** Value
        return Value(other) ** self

    def __neg__(self):
        return _node(-self.data, "neg", self, -1.0)

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
        return _node(out, "exp", self, out)

    def log(self):
        if self.data <= 0:
            raise ValueError(f"log needs a positive input, got {self.data:g}")
        return _node(math.log(self.data), "log", self, 1.0 / self.data)

    def tanh(self):
        t = math.tanh(self.data)
        return _node(t, "tanh", self, 1.0 - t * t)

    def sigmoid(self):
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            e = math.exp(x)
            s = e / (1.0 + e)
        return _node(s, "sigmoid", self, s * (1.0 - s))

    def relu(self):
        x = self.data
        # relu'(0) = 0 by convention (as in PyTorch)
        return _node(x if x > 0 else 0.0, "relu", self, 1.0 if x > 0 else 0.0)

    # ---- graph traversal ----
    def topo(self):
        """All nodes of the graph, inputs before outputs (iterative DFS, input ``_a`` before ``_b``)."""
        stamp = _next_stamp()
        order = []
        self._mark = stamp
        stack = [(self, 0)]           # (node, how many of its inputs have been looked at)
        while stack:
            node, seen = stack.pop()
            while seen < 2:
                child = node._b if seen else node._a
                seen += 1
                if child is not None and child._mark != stamp:
                    child._mark = stamp
                    stack.append((node, seen))
                    stack.append((child, 0))
                    break
            else:
                order.append(node)
        return order

    def backward(self, grad: float = 1.0):
        """Fill ``.grad`` of every node with d(self)/d(node).

        Interior nodes are reset first; leaves accumulate (see module docstring).
        """
        order = self.topo()
        for node in order:
            if node._a is not None:
                node.grad = 0.0
        self.grad += float(grad)      # interior outputs were just reset to 0; a leaf accumulates
        for node in reversed(order):
            g = node.grad
            if g == 0.0:
                continue
            a = node._a
            if a is not None:         # the chain rule: input.grad += d(node)/d(input) * node.grad
                a.grad += node._da * g
                b = node._b
                if b is not None:
                    b.grad += node._db * g

    def zero_grad(self):
        """Set ``.grad = 0`` on every node of the graph that produced this Value."""
        for node in self.topo():
            node.grad = 0.0
