using System.Runtime.InteropServices;
using Google.Protobuf;
using NormSharp.Onnx.Protobuf;

namespace NormSharp.Onnx;

/// <summary>
/// Collects the nodes and initializers of one ONNX graph while the exporter walks a model: unique value names,
/// float32 and int64 constants, attributes, and the few ops whose signature changed between opsets (ReduceMean
/// takes its axes as an attribute before opset 18 and as an input from 18 on).
/// </summary>
internal sealed class OnnxGraphBuilder(OnnxExportOptions options)
{
    private readonly GraphProto graph = new() { Name = "normsharp" };
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    /// <summary>The export options: opset, folding.</summary>
    public OnnxExportOptions Options { get; } = options;

    /// <summary>The default-domain opset the nodes are written for.</summary>
    public int Opset => Options.Opset;

    /// <summary>The graph built so far.</summary>
    public GraphProto Graph => graph;

    /// <summary>A value name not used yet, derived from <paramref name="hint"/> (a module path and a role).</summary>
    public string UniqueName(string hint)
    {
        var name = hint.Length == 0 ? "value" : hint;
        for (int i = 1; !names.Add(name); i++)
        {
            name = $"{hint}_{i}";
        }
        return name;
    }

    /// <summary>Appends a node <paramref name="opType"/> with one output named after <paramref name="path"/>; returns the output's name.</summary>
    public string Add(string opType, string path, string[] inputs, params AttributeProto[] attributes)
    {
        var output = UniqueName(path.Length == 0 ? opType : $"{path}.{opType}");
        var node = new NodeProto { OpType = opType, Name = output };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        graph.Node.Add(node);
        return output;
    }

    /// <summary>Appends an Identity node from <paramref name="input"/> to the already reserved name <paramref name="output"/>.</summary>
    public void AddIdentity(string input, string output)
    {
        var node = new NodeProto { OpType = "Identity", Name = output };
        node.Input.Add(input);
        node.Output.Add(output);
        graph.Node.Add(node);
    }

    /// <summary>A float32 initializer of <paramref name="shape"/> holding <paramref name="values"/> (row-major).</summary>
    public string Constant(string hint, ReadOnlySpan<float> values, params int[] shape)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length)
        {
            throw new ArgumentException($"Constant {hint}: shape [{string.Join(", ", shape)}] holds {count} values, got {values.Length}.", nameof(values));
        }
        var tensor = new TensorProto { Name = UniqueName(hint), DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        // raw_data is little-endian IEEE 754, the layout of a float span on every platform .NET runs on here.
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>A float32 initializer holding a copy of <paramref name="tensor"/>, optionally viewed with another <paramref name="shape"/>.</summary>
    public string Constant(string hint, Tensor tensor, int[]? shape = null) => Constant(hint, tensor.AsSpan(), shape ?? tensor.Shape);

    /// <summary>A float32 scalar initializer (shape []), broadcast by elementwise ops.</summary>
    public string Scalar(string hint, float value) => Constant(hint, [value]);

    /// <summary>A 1-D int64 initializer (shapes, axes).</summary>
    public string Int64Constant(string hint, params long[] values)
    {
        var tensor = new TensorProto { Name = UniqueName(hint), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.AddRange(values);
        graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>ReduceMean over <paramref name="axes"/>, keeping the reduced dimensions (axes attribute before opset 18, input from 18).</summary>
    public string ReduceMean(string path, string input, long[] axes)
    {
        if (Opset < 18)
        {
            return Add("ReduceMean", path, [input], Ints("axes", axes), Int("keepdims", 1));
        }
        return Add("ReduceMean", path, [input, Int64Constant($"{path}.axes", axes)], Int("keepdims", 1));
    }

    /// <summary>Declares a float32 graph input or output whose first dimension is the symbolic batch size "N".</summary>
    public static ValueInfoProto BatchedValue(string name, ReadOnlySpan<int> shape)
    {
        var tensorShape = new TensorShapeProto();
        for (int i = 0; i < shape.Length; i++)
        {
            tensorShape.Dim.Add(i == 0
                ? new TensorShapeProto.Types.Dimension { DimParam = "N" }
                : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape },
            },
        };
    }

    /// <summary>An int attribute.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, double value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = (float)value };

    /// <summary>A list-of-ints attribute.</summary>
    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>A string attribute.</summary>
    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
}
