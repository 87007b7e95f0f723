using NormSharp.Nn;
using NormSharp.Onnx.Protobuf;
using static NormSharp.Onnx.OnnxGraphBuilder;

namespace NormSharp.Onnx;

/// <summary>
/// ONNX nodes for the layers without statistics: Linear, Conv2d, pooling, activations, Flatten, Dropout. Each method
/// has the <see cref="ModuleExporter"/> signature and returns the name of the value it produced.
/// </summary>
internal static class OnnxLayerExporters
{
    /// <summary>Linear: Gemm (transB = 1) on 2-D input, MatMul with Wᵀ then Add on [*, in] input.</summary>
    public static string Linear(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var linear = (Linear)module;
        int outFeatures = linear.OutFeatures, inFeatures = linear.InFeatures;
        var weight = linear.Weight.AsSpan();
        if (inputValue.Rank == 2)
        {
            string[] inputs = linear.Bias is null
                ? [input, graph.Constant($"{path}.weight", linear.Weight)]
                : [input, graph.Constant($"{path}.weight", linear.Weight), graph.Constant($"{path}.bias", linear.Bias)];
            return graph.Add("Gemm", path, inputs, Int("transB", 1));
        }
        // MatMul broadcasts over the leading dimensions; it wants W transposed, [inFeatures, outFeatures].
        var transposed = new float[weight.Length];
        for (int o = 0; o < outFeatures; o++)
        {
            for (int i = 0; i < inFeatures; i++)
            {
                transposed[i * outFeatures + o] = weight[o * inFeatures + i];
            }
        }
        var product = graph.Add("MatMul", path, [input, graph.Constant($"{path}.weight_t", transposed, inFeatures, outFeatures)]);
        return linear.Bias is null ? product : graph.Add("Add", path, [product, graph.Constant($"{path}.bias", linear.Bias)]);
    }

    /// <summary>Conv2d: one Conv node (pads top, left, bottom, right).</summary>
    public static string Conv2d(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var conv = (Conv2d)module;
        var weightName = graph.Constant($"{path}.weight", conv.Weight);
        string[] inputs = conv.Bias is null ? [input, weightName] : [input, weightName, graph.Constant($"{path}.bias", conv.Bias)];
        return graph.Add("Conv", path, inputs,
            Ints("kernel_shape", conv.KernelSize.Height, conv.KernelSize.Width),
            Ints("strides", conv.Stride.Height, conv.Stride.Width),
            Ints("pads", conv.Padding.Height, conv.Padding.Width, conv.Padding.Height, conv.Padding.Width),
            Ints("dilations", conv.Dilation.Height, conv.Dilation.Width),
            Int("group", conv.Groups));
    }

    /// <summary>MaxPool2d: MaxPool, floor mode (ceil_mode 0), padding counting as −∞ as in both PyTorch and ONNX.</summary>
    public static string MaxPool2d(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var pool = (MaxPool2d)module;
        return graph.Add("MaxPool", path, [input], PoolAttributes(pool.KernelSize, pool.Stride, pool.Padding));
    }

    /// <summary>
    /// AvgPool2d: AveragePool with count_include_pad 1 (PyTorch's default); a window covering the whole unpadded image
    /// is global average pooling and is written as GlobalAveragePool.
    /// </summary>
    public static string AvgPool2d(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var pool = (AvgPool2d)module;
        bool global = inputValue.Rank == 4 && pool.Padding == new Size2d(0, 0)
            && pool.KernelSize == new Size2d(inputValue.Size(2), inputValue.Size(3));
        if (global)
        {
            return graph.Add("GlobalAveragePool", path, [input]);
        }
        return graph.Add("AveragePool", path, [input], [.. PoolAttributes(pool.KernelSize, pool.Stride, pool.Padding), Int("count_include_pad", 1)]);
    }

    private static AttributeProto[] PoolAttributes(Size2d kernel, Size2d stride, Size2d padding) =>
    [
        Ints("kernel_shape", kernel.Height, kernel.Width),
        Ints("strides", stride.Height, stride.Width),
        Ints("pads", padding.Height, padding.Width, padding.Height, padding.Width),
    ];

    /// <summary>ReLU, Sigmoid, Tanh: one node each.</summary>
    public static string Activation(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        ActivationNodes(graph, module.GetType().Name switch
        {
            nameof(ReLU) => "Relu",
            nameof(Sigmoid) => "Sigmoid",
            nameof(Tanh) => "Tanh",
            _ => "Gelu",
        }, path, input);

    /// <summary>
    /// The nodes of an activation: Relu, Sigmoid, Tanh; Gelu from opset 20, below it its exact formula
    /// 0.5 · x · (1 + erf(x / √2)).
    /// </summary>
    public static string ActivationNodes(OnnxGraphBuilder graph, string opType, string path, string input)
    {
        if (opType != "Gelu" || graph.Opset >= 20)
        {
            return graph.Add(opType, path, [input]);
        }
        var scaled = graph.Add("Mul", path, [input, graph.Scalar($"{path}.inv_sqrt2", (float)(1 / Math.Sqrt(2)))]);
        var onePlusErf = graph.Add("Add", path, [graph.Add("Erf", path, [scaled]), graph.Scalar($"{path}.one", 1f)]);
        var half = graph.Add("Mul", path, [input, graph.Scalar($"{path}.half", 0.5f)]);
        return graph.Add("Mul", path, [half, onePlusErf]);
    }

    /// <summary>Flatten(startDim): ONNX Flatten for startDim 1 (the same 2-D result), else Reshape keeping the leading dimensions.</summary>
    public static string Flatten(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        // The flattened result keeps the dimensions before startDim, so its rank tells startDim.
        int startDim = outputValue.Rank - 1;
        if (startDim == 1 && inputValue.Rank >= 2)
        {
            return graph.Add("Flatten", path, [input], Int("axis", 1));
        }
        return ReshapeNode(graph, path, input, inputValue.ShapeSpan, outputValue.ShapeSpan);
    }

    /// <summary>
    /// Reshape to <paramref name="outputShape"/> keeping the batch dimension symbolic: when the first dimension is
    /// unchanged it is written as 0 (copy the input's), any other dimension literally.
    /// </summary>
    public static string ReshapeNode(OnnxGraphBuilder graph, string path, string input, ReadOnlySpan<int> inputShape, ReadOnlySpan<int> outputShape)
    {
        var target = new long[outputShape.Length];
        for (int i = 0; i < target.Length; i++)
        {
            target[i] = outputShape[i];
        }
        if (target.Length > 0 && inputShape.Length > 0 && outputShape[0] == inputShape[0])
        {
            target[0] = 0;
        }
        return graph.Add("Reshape", path, [input, graph.Int64Constant($"{path}.shape", target)]);
    }

    /// <summary>Dropout in evaluation mode, and Identity, are the identity: no node.</summary>
    public static string Identity(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) => input;
}
