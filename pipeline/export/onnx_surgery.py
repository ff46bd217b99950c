"""Graph surgery for inlining one ONNX model inside another under a name prefix.

``onnx.compose.add_prefix_graph`` renames what a graph defines; :func:`prefixed_graph`
also renames the symbolic dims and the outer-scope names subgraphs read, so the
inlined model keeps working (the text models inline the id model as ``idmodel/``).

>>> import onnx
>>> from onnx import helper, TensorProto
>>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["time"])
>>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["time"])
>>> g = prefixed_graph(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]), "inner/")
>>> g.node[0].input[0], g.input[0].type.tensor_type.shape.dim[0].dim_param
('inner/x', 'inner/time')
>>> opset_version(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), ""), min_ir_version(20)
(17, 9)
"""

from __future__ import annotations


def prefixed_graph(graph, prefix: str):
    """A copy of ``graph`` with every name, symbolic dim and outer-scope reference prefixed."""
    import onnx

    body = onnx.compose.add_prefix_graph(graph, prefix)
    prefix_dim_params(body, prefix)
    prefix_outer_references(body, prefix)
    return body


def _subgraphs(graph):
    import onnx

    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield attr.g
            yield from attr.graphs


def prefix_outer_references(graph, prefix: str, outer: set | None = None) -> None:
    """Rename subgraph inputs that refer to the enclosing graph's (now prefixed) tensors.

    ``onnx.compose.add_prefix_graph`` renames what a subgraph defines but not the
    outer-scope names its nodes read (a fused SimpleRNN's ``If``/``Scan`` branches
    read the weights of the main graph).
    """
    names = set(outer or ()) | {i.name for i in graph.input} | {t.name for t in graph.initializer}
    names |= {o for n in graph.node for o in n.output}
    for sub in _subgraphs(graph):
        local = {i.name for i in sub.input} | {t.name for t in sub.initializer} | {o for n in sub.node for o in n.output}
        for node in sub.node:
            for i, name in enumerate(node.input):
                if name and name not in local and name not in names and prefix + name in names:
                    node.input[i] = prefix + name
        for out in sub.output:
            if out.name not in local and out.name not in names and prefix + out.name in names:
                out.name = prefix + out.name
        prefix_outer_references(sub, prefix, names)


def prefix_dim_params(graph, prefix: str) -> None:
    """Rename the id model's symbolic dims (``time`` -> ``idmodel/time``) in ``graph`` and its subgraphs.

    Inside the text model the id model sees one extra padding column, so its
    ``time`` is not the text model's ``time``; ONNX Runtime's memory planner
    trusts equal names to mean equal sizes (and warns on every call otherwise).
    """
    import onnx

    for info in [*graph.input, *graph.output, *graph.value_info]:
        for dim in info.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = prefix + dim.dim_param
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                prefix_dim_params(attr.g, prefix)
            for sub in attr.graphs:
                prefix_dim_params(sub, prefix)


def opset_version(model, domain: str) -> int:
    for entry in model.opset_import:
        if entry.domain == domain or (domain == "" and entry.domain == "ai.onnx"):
            return entry.version
    return 0


def min_ir_version(opset: int) -> int:
    """The lowest IR version the ONNX checker accepts for an ai.onnx ``opset``."""
    return 8 if opset <= 18 else 9 if opset <= 20 else 10
