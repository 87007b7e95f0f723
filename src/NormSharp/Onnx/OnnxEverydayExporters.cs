using NormSharp.Nn;
using static NormSharp.Onnx.OnnxGraphBuilder;

namespace NormSharp.Onnx;

/// <summary>
/// ONNX nodes for the everyday parameter-free modules: Identity, LeakyReLU, SiLU, Softmax, LogSoftmax and
/// AdaptiveAvgPool2d. Each method has the <see cref="ModuleExporter"/> signature.
/// </summary>
internal static class OnnxEverydayExporters
{
    /// <summary>LeakyReLU: LeakyRelu with alpha = the negative slope.</summary>
    public static string LeakyRelu(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        graph.Add("LeakyRelu", path, [input], Float("alpha", ((LeakyReLU)module).NegativeSlope));

    /// <summary>SiLU: x · Sigmoid(x) (the default domain has no single SiLU/Swish node up to opset 23).</summary>
    public static string Silu(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        graph.Add("Mul", path, [input, graph.Add("Sigmoid", path, [input])]);

    /// <summary>Softmax(dim): Softmax along axis dim (opset 13+ semantics: one axis, not the flattened trailing block).</summary>
    public static string Softmax(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        graph.Add("Softmax", path, [input], Int("axis", ((Softmax)module).Dim));

    /// <summary>LogSoftmax(dim): LogSoftmax along axis dim (opset 13+ semantics).</summary>
    public static string LogSoftmax(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue) =>
        graph.Add("LogSoftmax", path, [input], Int("axis", ((LogSoftmax)module).Dim));

    /// <summary>
    /// AdaptiveAvgPool2d on (N, C, H, W): GlobalAveragePool for output 1×1; AveragePool with kernel = stride =
    /// input / output size when both input sizes are multiples of the output sizes (then PyTorch's adaptive windows
    /// are exactly those non-overlapping tiles). Other sizes give overlapping windows of varying size, which no
    /// single ONNX pooling node computes.
    /// </summary>
    /// <exception cref="NotSupportedException">Input not 4-D, or an input size not a multiple of the output size.</exception>
    public static string AdaptiveAvgPool2d(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue)
    {
        var pool = (AdaptiveAvgPool2d)module;
        var output = pool.OutputSize;
        if (inputValue.Rank != 4)
        {
            throw new NotSupportedException(
                $"ONNX export of AdaptiveAvgPool2d at '{path}' needs batched input (N, C, H, W), got shape {ShapeUtil.Format(inputValue.ShapeSpan)}.");
        }
        int height = inputValue.Size(2), width = inputValue.Size(3);
        if (output.Height == 1 && output.Width == 1)
        {
            return graph.Add("GlobalAveragePool", path, [input]);
        }
        if (height % output.Height != 0 || width % output.Width != 0)
        {
            throw new NotSupportedException(
                $"ONNX export of AdaptiveAvgPool2d at '{path}' needs the input size to be a multiple of the output size (or output 1x1), "
                + $"got input {height}x{width} and output {output.Height}x{output.Width}.");
        }
        long kernelHeight = height / output.Height, kernelWidth = width / output.Width;
        return graph.Add("AveragePool", path, [input],
            Ints("kernel_shape", kernelHeight, kernelWidth), Ints("strides", kernelHeight, kernelWidth));
    }
}
