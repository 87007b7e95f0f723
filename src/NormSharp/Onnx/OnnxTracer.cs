using NormSharp.Autograd;
using NormSharp.Nn;

namespace NormSharp.Onnx;

/// <summary>
/// Walks a model module by module: a library layer writes its own nodes (<see cref="OnnxModuleExporters"/>), a
/// <see cref="Sequential"/> chains its children (folding Conv2d/Linear + BatchNorm pairs when asked), and any other
/// module is traced through the operations its forward records (<see cref="OnnxOperationTracer"/>).
/// </summary>
internal static class OnnxTracer
{
    /// <summary>Writes the nodes of <paramref name="module"/> applied to <paramref name="input"/>; returns the output's name and value.</summary>
    public static (string Name, Tensor Value) Trace(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue)
    {
        if (module is Sequential sequential)
        {
            return TraceSequential(graph, sequential, path, input, inputValue);
        }
        if (OnnxModuleExporters.Find(module) is { } exporter)
        {
            var output = Evaluate(module, inputValue);
            return (exporter(graph, module, path, input, inputValue, output), output);
        }
        return OnnxOperationTracer.Trace(graph, module, path, input, inputValue);
    }

    private static (string Name, Tensor Value) TraceSequential(OnnxGraphBuilder graph, Sequential sequential, string path, string input, Tensor inputValue)
    {
        var (name, value) = (input, inputValue);
        for (int i = 0; i < sequential.Count; i++)
        {
            var layer = sequential[i];
            var layerPath = Join(path, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (graph.Options.FoldBatchNorm && i + 1 < sequential.Count && layer is Conv2d or Linear
                && BatchNormFolding.Fuse(layer, sequential[i + 1], Evaluate(layer, value)) is { } fused)
            {
                // The fused layer is exported under the layer's path, its output traced from the fused layer itself.
                (name, value) = Trace(graph, fused, layerPath, name, value);
                i++;
                continue;
            }
            (name, value) = Trace(graph, layer, layerPath, name, value);
        }
        return (name, value);
    }

    /// <summary>The module's evaluation output, without recording a graph.</summary>
    private static Tensor Evaluate(Module module, Tensor input)
    {
        using var noGrad = new NoGrad();
        return module.Forward(input);
    }

    /// <summary>Joins a parent path and a child name with a dot, as state-dict keys do.</summary>
    public static string Join(string path, string name) => path.Length == 0 ? name : path + "." + name;
}
