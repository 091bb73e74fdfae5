"""Plain facts read from NodeDef and shape protos: dims of a shape, the (dtype, dims) of a
node's outputs, the parameters it holds; and the text that shows dims and dtypes."""
from __future__ import annotations

from .. import dtypes
from .families import VARIABLE_OPS


def dims_text(dims) -> str:
    if dims is None:
        return "?"
    inner = ", ".join("?" if d is None or d < 0 else str(d) for d in dims)
    return f"({inner},)" if len(dims) == 1 else f"({inner})"


def _dtype_text(enum: int) -> str:
    try:
        return dtypes.python_name(int(enum))
    except Exception:  # noqa: BLE001 - an unknown enum is just shown as a number
        return f"dtype{enum}"


def _node_of(tensor_name: str) -> str:
    return tensor_name.lstrip("^").split(":", 1)[0]


def _dims(shape_proto):
    if shape_proto.unknown_rank:
        return None
    return tuple(int(d.size) for d in shape_proto.dim)


def _output_specs(n) -> list:
    shapes = []
    if "_output_shapes" in n.attr:
        shapes = [_dims(s) for s in n.attr["_output_shapes"].list.shape]
    types = []
    for key in ("T", "dtype", "DstT", "out_type", "Tout", "output_type", "type", "Tparams",
                "Toutput_types", "output_types"):
        if key in n.attr:
            a = n.attr[key]
            if a.WhichOneof("value") == "type":
                types = [int(a.type)]
            elif a.WhichOneof("value") == "list":
                types = [int(t) for t in a.list.type]
            break
    if n.op in VARIABLE_OPS or n.op == "HashTableV2":
        types = [20]  # DT_RESOURCE
    if not shapes and n.op in ("Placeholder", "PlaceholderWithDefault") and "shape" in n.attr:
        shapes = [_dims(n.attr["shape"].shape)]
    if not shapes and n.op == "Const" and "value" in n.attr:
        shapes = [_dims(n.attr["value"].tensor.tensor_shape)]
    count = max(len(shapes), len(types))
    return [(types[i] if i < len(types) else (types[0] if len(types) == 1 else None),
             shapes[i] if i < len(shapes) else None) for i in range(count)]


def _is_float(enum: int) -> bool:
    return int(enum) in (1, 2, 14, 19, 101, 102, 114, 119)


def _num_elements(dims) -> int:
    if dims is None or any(d < 0 for d in dims):
        return 0
    total = 1
    for d in dims:
        total *= d
    return total


def _params(n) -> int:
    if n.op in VARIABLE_OPS and "shape" in n.attr:
        dtype = n.attr["dtype"].type if "dtype" in n.attr else 1
        return _num_elements(_dims(n.attr["shape"].shape)) if _is_float(dtype) else 0
    if n.op in ("Const", "HostConst") and "value" in n.attr:
        t = n.attr["value"].tensor
        dims = _dims(t.tensor_shape)
        if _is_float(t.dtype) and dims:
            return _num_elements(dims)
    return 0


def _arg_size(arg, node_def) -> int:
    if arg.number_attr and arg.number_attr in node_def.attr:
        return int(node_def.attr[arg.number_attr].i)
    if arg.type_list_attr and arg.type_list_attr in node_def.attr:
        return len(node_def.attr[arg.type_list_attr].list.type)
    return 1
