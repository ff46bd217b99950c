"""A small ONNX graph builder: unique names, deduplicated constants, one call per node.

Converters never touch ``onnx.helper`` directly; they ask the builder for nodes
and constants by name and get tensor names back::

    >>> import numpy as np
    >>> g = GraphBuilder()
    >>> w = g.const(np.ones((3, 2), np.float32), "w")
    >>> y = g.op("MatMul", ["x", w], hint="y")
    >>> model = g.model([g.input("x", np.float32, ["batch", 3])], [g.output(y, np.float32, ["batch", 2])], opset=17)
    >>> [n.op_type for n in model.graph.node], len(model.graph.initializer)
    (['MatMul'], 1)

Subgraphs (``If`` branches, ``Scan`` bodies) come from :meth:`GraphBuilder.subgraph`:
they share the name counter with their parent, so no name is ever reused, and
their constants live in the root graph (visible to every subgraph).
"""

from __future__ import annotations

import itertools
import re

import numpy as np

_ELEM = {
    np.dtype(np.float32): 1, np.dtype(np.int32): 6, np.dtype(np.int64): 7, np.dtype(np.bool_): 9,
}


def elem_type(dtype) -> int:
    """ONNX element type of a numpy dtype (float32, int32, int64, bool)."""
    try:
        return _ELEM[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"no ONNX element type mapped for {dtype}") from None


class GraphBuilder:
    """Collects nodes and initializers for one ONNX graph."""

    _SMALL = 64  # constants up to this many elements are deduplicated by value

    def __init__(self, *, parent: "GraphBuilder | None" = None):
        self.parent = parent
        self.root: GraphBuilder = parent.root if parent else self
        self.nodes: list = []
        self.initializers: list = []
        if parent is None:
            self._counter = itertools.count()
            self._used: set[str] = set()
            self._consts: dict[tuple, str] = {}

    # -- names ---------------------------------------------------------------
    def fresh(self, hint: str = "t") -> str:
        """A tensor name not used anywhere in the model, derived from ``hint``."""
        root = self.root
        base = re.sub(r"[^A-Za-z0-9_./-]", "_", hint) or "t"
        name = base
        while name in root._used:
            name = f"{base}_{next(root._counter)}"
        root._used.add(name)
        return name

    def reserve(self, name: str) -> str:
        """Claim an exact name (graph inputs and outputs)."""
        if name in self.root._used:
            raise ValueError(f"tensor name {name!r} is already used")
        self.root._used.add(name)
        return name

    # -- constants -----------------------------------------------------------
    def const(self, value, hint: str = "const", dtype=None) -> str:
        """An initializer holding ``value`` (in the root graph); small ones are shared."""
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        root = self.root
        key = None
        if arr.size <= self._SMALL:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in root._consts:
                return root._consts[key]
        name = root.fresh(hint)
        root.initializers.append(numpy_helper.from_array(np.array(arr, order="C", copy=True), name))
        if key is not None:
            root._consts[key] = name
        return name

    def ints(self, values, hint: str = "axes") -> str:
        """A 1-D int64 constant (axes, shapes, slice bounds)."""
        return self.const(np.asarray(list(values), np.int64), hint)

    # -- nodes ---------------------------------------------------------------
    def op(self, op_type: str, inputs, *, hint: str | None = None, outputs: int = 1, **attrs):
        """Append a node; return its output name (or list of names when ``outputs > 1``).

        ``inputs`` may contain ``""`` for omitted optional inputs.
        """
        from onnx import helper

        base = hint or op_type.lower()
        names = [self.fresh(base if outputs == 1 else f"{base}_{i}") for i in range(outputs)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self.fresh(f"{base}_node"), **attrs))
        return names[0] if outputs == 1 else names

    def op_into(self, op_type: str, inputs, outputs: list[str], **attrs) -> None:
        """Append a node whose output names are given (subgraph outputs, graph outputs)."""
        from onnx import helper

        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs),
                                           name=self.fresh(f"{op_type.lower()}_node"), **attrs))

    # -- graphs --------------------------------------------------------------
    def subgraph(self) -> "GraphBuilder":
        return GraphBuilder(parent=self)

    @staticmethod
    def input(name: str, dtype, shape) -> object:
        from onnx import helper

        return helper.make_tensor_value_info(name, elem_type(dtype), shape)

    output = input

    def graph(self, name: str, inputs: list, outputs: list):
        from onnx import helper

        inits = self.initializers if self.parent is None else []
        return helper.make_graph(self.nodes, name, inputs, outputs, initializer=inits)

    def model(self, inputs: list, outputs: list, *, opset: int, name: str = "rnnx_fused"):
        """The finished model; nodes and initializers that no output needs are dropped.

        Converters may write outputs nobody reads (the final state of a tagger's
        RNN, the halves of a merged bidirectional output); pruning them here keeps
        the converters simple and the runtime graph minimal.
        """
        from onnx import helper

        if self.parent is not None:
            raise ValueError("model() is for the root graph")
        self._prune([o.name for o in outputs])
        return helper.make_model(self.graph(name, inputs, outputs),
                                 opset_imports=[helper.make_opsetid("", opset)], producer_name="rnnx")

    def rename_output(self, old: str, new: str) -> bool:
        """Let the node producing ``old`` write ``new`` instead, when nothing else reads ``old``."""
        producer = [n for n in self.nodes if old in n.output]
        if len(producer) != 1 or len(producer[0].output) != 1:
            return False
        if old in _names_read(self.nodes):
            return False
        producer[0].output[0] = new
        return True

    def _prune(self, needed_outputs: list[str]) -> None:
        needed = set(needed_outputs)
        kept = []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed |= _names_read([node])
        self.nodes[:] = kept[::-1]
        self.initializers[:] = [t for t in self.initializers if t.name in needed]


def _names_read(nodes) -> set[str]:
    """Every tensor name the nodes read, including outer-scope names read inside their subgraphs."""
    names: set[str] = set()
    for node in nodes:
        names.update(i for i in node.input if i)
        for attr in node.attribute:
            graphs = [attr.g] if attr.HasField("g") else list(attr.graphs)
            for sub in graphs:
                names |= _names_read(sub.node)
    return names
