using NormSharp.Autograd;
using NormSharp.Nn;

namespace NormSharp.Onnx;

/// <summary>
/// Traces a module that is neither a library layer nor a <see cref="Sequential"/> (a residual block, say) through
/// the autograd record of one forward: the input is marked as requiring gradients, the forward runs, and the
/// recorded operations are walked back from the output. An operation that takes a parameter of a library layer
/// inside the module, or is named after the type of a stateless library layer inside it (MaxPool2d, AvgPool2d, a
/// LayerNorm without affine), is that layer's forward when the layer's own forward reproduces it, and is written by
/// the layer's exporter; Tensor +, −, ·, /, Reshape (and Flatten), Permute and the
/// activations map to single nodes; values that do not depend on the input are written as constants. Any other
/// operation throws <see cref="NotSupportedException"/>.
/// </summary>
internal sealed class OnnxOperationTracer
{
    /// <summary>The name of the operation <see cref="Sequential"/> runs for a BatchNorm directly followed by ReLU.</summary>
    private const string FusedBatchNormRelu = "BatchNormReLU";

    private readonly OnnxGraphBuilder graph;
    private readonly Module module;
    private readonly string path;
    private readonly Tensor tracedInput;
    private readonly Dictionary<Tensor, string> names = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, bool> dependsOnInput = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, (Module Layer, string Path)> parameterOwners = new(ReferenceEqualityComparer.Instance);
    private readonly List<(Module Layer, string Path)> statelessLayers = [];

    private OnnxOperationTracer(OnnxGraphBuilder graph, Module module, string path, string input, Tensor tracedInput)
    {
        this.graph = graph;
        this.module = module;
        this.path = path;
        this.tracedInput = tracedInput;
        names[tracedInput] = input;
        dependsOnInput[tracedInput] = true;
        foreach (var (childPath, child) in module.NamedModules())
        {
            if (childPath.Length > 0 && OnnxModuleExporters.Find(child) is not null)
            {
                foreach (var (_, parameter) in child.NamedParameters())
                {
                    parameterOwners.TryAdd(parameter, (child, OnnxTracer.Join(path, childPath)));
                }
                if (!child.NamedParameters().Any() && !child.NamedBuffers().Any())
                {
                    statelessLayers.Add((child, OnnxTracer.Join(path, childPath)));
                }
            }
        }
    }

    /// <summary>Writes the nodes of <paramref name="module"/>'s forward on <paramref name="inputValue"/>; returns the output's name and value.</summary>
    /// <exception cref="InvalidOperationException">Called inside a <see cref="NoGrad"/> scope (nothing would be recorded).</exception>
    /// <exception cref="NotSupportedException">The forward uses an operation with no ONNX mapping.</exception>
    public static (string Name, Tensor Value) Trace(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue)
    {
        if (!GradMode.IsEnabled)
        {
            throw new InvalidOperationException(
                $"ONNX export traces module '{DisplayPath(path)}' ({module.GetType().Name}) through the operations its forward records; call it outside a NoGrad scope.");
        }
        var tracedInput = inputValue.Detach();
        tracedInput.RequiresGrad = true;
        var output = module.Forward(tracedInput);
        var tracer = new OnnxOperationTracer(graph, module, path, input, tracedInput);
        return (tracer.Emit(output), output.Detach());
    }

    private string Emit(Tensor value)
    {
        if (names.TryGetValue(value, out var known))
        {
            return known;
        }
        string name;
        if (!DependsOnInput(value))
        {
            name = graph.Constant($"{path}.constant", value);
        }
        else
        {
            name = EmitOperation(value.GradFn!, value);
        }
        names[value] = name;
        return name;
    }

    private string EmitOperation(Function operation, Tensor output)
    {
        var inputs = operation.Inputs;
        if (LayerFor(operation, output) is var (layer, layerPath))
        {
            var data = inputs[0];
            var name = OnnxModuleExporters.Find(layer)!(graph, layer, layerPath, Emit(data), data, output);
            // Sequential runs BatchNorm + ReLU as one fused operation.
            return operation.Name == FusedBatchNormRelu ? graph.Add("Relu", layerPath, [name]) : name;
        }
        return operation.Name switch
        {
            "Relu" or "Sigmoid" or "Tanh" or "Gelu" => OnnxLayerExporters.ActivationNodes(graph, operation.Name, path, Emit(inputs[0])),
            "Add" => graph.Add("Add", path, [Emit(inputs[0]), Emit(inputs[1])]),
            "Subtract" => graph.Add("Sub", path, [Emit(inputs[0]), Emit(inputs[1])]),
            "Multiply" => graph.Add("Mul", path, [Emit(inputs[0]), Emit(inputs[1])]),
            "Divide" => graph.Add("Div", path, [Emit(inputs[0]), Emit(inputs[1])]),
            "ReshapeFunction" => OnnxLayerExporters.ReshapeNode(graph, path, Emit(inputs[0]), inputs[0].ShapeSpan, output.ShapeSpan),
            _ when operation is Tensor.PermuteFunction permute =>
                graph.Add("Transpose", path, [Emit(inputs[0])], OnnxGraphBuilder.Ints("perm", [.. permute.Dims.Select(d => (long)d)])),
            _ => throw new NotSupportedException(
                $"ONNX export does not support the operation '{operation.Name}' in module '{DisplayPath(path)}' ({module.GetType().Name}). "
                + "Inside a custom module it maps Tensor +, -, *, /, Reshape, Flatten, Permute, ReLU, Sigmoid, Tanh, GELU, the library layers it "
                + "identifies by their parameters, and layers without state whose forward reproduces the operation; a module made only of "
                + "library layers exports as a Sequential."),
        };
    }

    /// <summary>
    /// The library layer inside the module whose forward recorded <paramref name="operation"/>: a layer whose parameter
    /// the operation takes, or else a layer without parameters or buffers (pooling, a LayerNorm without affine ...)
    /// of the type the operation is named after. An operation does not carry its layer's settings, and a parameter
    /// may feed other operations too, so a candidate counts only if its own forward on the operation's first input
    /// reproduces the operation's output. Null when none does.
    /// </summary>
    private (Module Layer, string Path)? LayerFor(Function operation, Tensor output)
    {
        var data = operation.Inputs[0];
        bool relu = operation.Name == FusedBatchNormRelu;
        foreach (var input in operation.Inputs)
        {
            if (parameterOwners.TryGetValue(input, out var owner) && Reproduces(owner.Layer, data, output, relu))
            {
                return owner;
            }
        }
        foreach (var candidate in statelessLayers)
        {
            if (candidate.Layer.GetType().Name == operation.Name && Reproduces(candidate.Layer, data, output, relu: false))
            {
                return candidate;
            }
        }
        return null;
    }

    private static bool Reproduces(Module layer, Tensor input, Tensor output, bool relu)
    {
        Tensor again;
        using (new NoGrad())
        {
            try
            {
                again = relu && layer is BatchNormBase batchNorm ? batchNorm.ForwardRelu(input) : layer.Forward(input);
            }
            catch (ArgumentException)
            {
                return false;   // the layer does not even take this input
            }
        }
        if (!again.ShapeSpan.SequenceEqual(output.ShapeSpan))
        {
            return false;
        }
        // The same kernel on the same input: equal up to the last bits of a reduction's rounding.
        var expected = output.AsSpan();
        var actual = again.AsSpan();
        for (int i = 0; i < expected.Length; i++)
        {
            if (!(Math.Abs(actual[i] - expected[i]) <= 1e-6f * (1 + Math.Abs(expected[i]))))
            {
                return false;
            }
        }
        return true;
    }

    private bool DependsOnInput(Tensor value)
    {
        if (dependsOnInput.TryGetValue(value, out bool known))
        {
            return known;
        }
        bool depends = value.GradFn is { } operation && operation.Inputs.Any(DependsOnInput);
        dependsOnInput[value] = depends;
        return depends;
    }

    private static string DisplayPath(string path) => path.Length == 0 ? "(model)" : path;
}
