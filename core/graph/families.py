"""What the graph view knows about op types: the ones it treats specially (calls, saver
plumbing, weights, variables, the synthesized inputs and outputs) and the colour family of
every op."""
from __future__ import annotations

CALL_OPS = frozenset({"StatefulPartitionedCall", "PartitionedCall"})
SAVER_OPS = frozenset({"SaveV2", "RestoreV2", "MergeV2Checkpoints", "ShardedFilename",
                       "ShardedFilespec", "Save", "SaveSlices", "Restore", "RestoreSlice"})
# Ops without inputs that only provide a value (weights, constants): drawn next to the op
# that uses them rather than where their name would put them.
SOURCE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable", "Const", "HostConst",
                        "_Arg"})
VARIABLE_OPS = frozenset({"VarHandleOp", "VariableV2", "Variable"})
INPUT_OP = "Input"      # signature input placeholder / function argument
OUTPUT_OP = "Output"    # signature output / function result

FAMILIES = ("math", "nn", "array", "control", "variable", "string", "io", "input", "other")
FAMILY_LABELS = {
    "math": "math", "nn": "conv / nn", "array": "shape / array", "control": "control flow",
    "variable": "variables / resources", "string": "strings / tables", "io": "io / saver",
    "input": "inputs / outputs", "other": "other",
}

_MATH = {
    "Abs", "Acos", "Acosh", "Add", "AddN", "AddV2", "All", "Any", "ApproximateEqual", "ArgMax",
    "ArgMin", "Asin", "Asinh", "Atan", "Atan2", "Atanh", "BatchMatMul", "BatchMatMulV2",
    "BatchMatMulV3", "Cast", "Ceil", "Cos", "Cosh", "Cumprod", "Cumsum", "Digamma", "Div",
    "DivNoNan", "Einsum", "Equal", "Erf", "Erfc", "Exp", "Expm1", "Floor", "FloorDiv",
    "FloorMod", "Greater", "GreaterEqual", "Inv", "IsFinite", "IsInf", "IsNan", "Less",
    "LessEqual", "Lgamma", "Log", "Log1p", "LogicalAnd", "LogicalNot", "LogicalOr", "MatMul",
    "Max", "Maximum", "Mean", "Min", "Minimum", "Mod", "Mul", "MulNoNan", "Neg", "NotEqual",
    "Pow", "Prod", "Range", "RealDiv", "Reciprocal", "Round", "Rsqrt", "Sign", "Sin", "Sinh",
    "Sqrt", "Square", "SquaredDifference", "Sub", "Sum", "Tan", "Tanh", "TruncateDiv",
    "TruncateMod", "Xdivy", "Xlogy", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Invert",
    "LeftShift", "RightShift", "Betainc", "Igamma", "Igammac", "Rint", "ClipByValue",
    "SegmentSum", "UnsortedSegmentSum", "UnsortedSegmentMax", "EuclideanNorm",
}
_NN = {
    "Conv2D", "Conv3D", "Conv1D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "BiasAdd",
    "BiasAddV1", "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Softplus", "Softsign",
    "Sigmoid", "Softmax", "LogSoftmax", "MaxPool", "MaxPoolV2", "MaxPool3D", "AvgPool",
    "AvgPool3D", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "LRN",
    "_FusedConv2D", "_FusedMatMul", "TopKV2", "InTopKV2", "Dilation2D", "Gelu",
    "SparseSoftmaxCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits", "L2Loss",
    "ResizeBilinear", "ResizeNearestNeighbor", "ResizeBicubic", "CudnnRNN", "CudnnRNNV3",
}
_ARRAY = {
    "Reshape", "Shape", "ShapeN", "Size", "Rank", "Squeeze", "ExpandDims", "Transpose",
    "ConcatV2", "Concat", "Pack", "Unpack", "Split", "SplitV", "Slice", "StridedSlice",
    "Gather", "GatherV2", "GatherNd", "ScatterNd", "Tile", "Pad", "PadV2", "MirrorPad",
    "Fill", "ZerosLike", "OnesLike", "Identity", "IdentityN", "Snapshot", "StopGradient",
    "Reverse", "ReverseV2", "BroadcastTo", "BroadcastArgs", "BroadcastGradientArgs",
    "Where", "Select", "SelectV2", "OneHot", "DepthToSpace", "SpaceToDepth", "Bitcast",
    "Unique", "TensorScatterUpdate", "MatrixDiag", "MatrixBandPart", "EnsureShape",
    "CheckNumerics", "PreventGradient", "PlaceholderWithDefault", "Cumsum_", "LinSpace",
    "TensorListFromTensor", "TensorListStack", "TensorListReserve", "TensorListGetItem",
    "TensorListSetItem", "TensorListLength", "TensorListElementShape",
}
_CONTROL = {
    "While", "StatelessWhile", "If", "StatelessIf", "Case", "StatelessCase", "Switch",
    "Merge", "Enter", "Exit", "NextIteration", "LoopCond", "NoOp", "ControlTrigger",
    "StatefulPartitionedCall", "PartitionedCall", "Assert", "Print", "PrintV2",
    "_While", "_If", "RefSwitch", "RefEnter", "RefMerge",
}
_VARIABLE = {
    "VarHandleOp", "VariableV2", "Variable", "ReadVariableOp", "AssignVariableOp",
    "AssignAddVariableOp", "AssignSubVariableOp", "VarIsInitializedOp", "Assign",
    "AssignAdd", "AssignSub", "DestroyResourceOp", "ResourceGather", "DisableCopyOnRead",
    "ResourceApplyAdam", "ResourceApplyGradientDescent", "IsVariableInitialized",
    "Const", "HostConst", "_Arg", "ResourceScatterUpdate",
}
_STRING = {
    "StringJoin", "StringSplit", "StringSplitV2", "StringLower", "StringUpper", "StringStrip",
    "StringToNumber", "AsString", "RegexReplace", "StaticRegexReplace", "RegexFullMatch",
    "StaticRegexFullMatch", "Substr", "StringLength", "StringFormat", "DecodeBase64",
    "EncodeBase64", "HashTableV2", "MutableHashTableV2", "LookupTableFindV2",
    "LookupTableImportV2", "LookupTableSizeV2", "InitializeTableV2",
    "InitializeTableFromTextFileV2", "StringToHashBucketFast", "UnicodeDecode",
    "UnicodeEncode", "ParseExample", "ParseExampleV2", "ParseSingleExample", "DecodeRaw",
    "DecodeJpeg", "DecodePng", "DecodeImage", "EncodePng", "EncodeJpeg",
}
_IO = set(SAVER_OPS) | {"ReadFile", "WriteFile", "MatchingFiles"}


def op_family(op: str) -> str:
    """The colour family of an op type: one of FAMILIES."""
    if op in (INPUT_OP, OUTPUT_OP, "Placeholder"):
        return "input"
    for family, ops in (("nn", _NN), ("math", _MATH), ("array", _ARRAY),
                        ("control", _CONTROL), ("variable", _VARIABLE), ("string", _STRING),
                        ("io", _IO)):
        if op in ops:
            return family
    return "other"
