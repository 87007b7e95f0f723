using NormSharp.Nn;

namespace NormSharp.Onnx;

/// <summary>
/// Writes the ONNX nodes of one module in evaluation mode and returns the name of the value they produce.
/// </summary>
/// <param name="graph">The graph being built.</param>
/// <param name="module">The module, of the type the exporter is registered for.</param>
/// <param name="path">The module's dotted path in the model (<c>features.1</c>), used to name nodes and initializers.</param>
/// <param name="input">The name of the module's input value in the graph.</param>
/// <param name="inputValue">The input's value in the traced forward (its shape tells ranks and spatial sizes).</param>
/// <param name="outputValue">The module's output in the traced forward.</param>
internal delegate string ModuleExporter(OnnxGraphBuilder graph, Module module, string path, string input, Tensor inputValue, Tensor outputValue);

/// <summary>
/// The library layers ONNX export knows, one entry each, by exact type (a subclass may compute something else in
/// evaluation, so it needs its own entry). Adding a layer = one line here plus its <see cref="ModuleExporter"/>.
/// </summary>
internal static class OnnxModuleExporters
{
    private static readonly Dictionary<Type, ModuleExporter> Exporters = new()
    {
        [typeof(Linear)] = OnnxLayerExporters.Linear,
        [typeof(Conv2d)] = OnnxLayerExporters.Conv2d,
        [typeof(MaxPool2d)] = OnnxLayerExporters.MaxPool2d,
        [typeof(AvgPool2d)] = OnnxLayerExporters.AvgPool2d,
        [typeof(ReLU)] = OnnxLayerExporters.Activation,
        [typeof(Sigmoid)] = OnnxLayerExporters.Activation,
        [typeof(Tanh)] = OnnxLayerExporters.Activation,
        [typeof(GELU)] = OnnxLayerExporters.Activation,
        [typeof(Flatten)] = OnnxLayerExporters.Flatten,
        [typeof(Dropout)] = OnnxLayerExporters.Identity,
        [typeof(Identity)] = OnnxLayerExporters.Identity,
        [typeof(LeakyReLU)] = OnnxEverydayExporters.LeakyRelu,
        [typeof(SiLU)] = OnnxEverydayExporters.Silu,
        [typeof(Softmax)] = OnnxEverydayExporters.Softmax,
        [typeof(LogSoftmax)] = OnnxEverydayExporters.LogSoftmax,
        [typeof(AdaptiveAvgPool2d)] = OnnxEverydayExporters.AdaptiveAvgPool2d,
        [typeof(BatchNorm1d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(BatchNorm2d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(BatchNorm3d)] = OnnxNormalizationExporters.BatchNorm,
        // These evaluate as batch norm with running statistics (their own forward differs only in training).
        [typeof(BatchRenorm1d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(BatchRenorm2d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(BatchRenorm3d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(GhostBatchNorm1d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(GhostBatchNorm2d)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(Distributed.SyncBatchNorm)] = OnnxNormalizationExporters.BatchNorm,
        [typeof(FrozenBatchNorm2d)] = OnnxNormalizationExporters.FrozenBatchNorm,
        [typeof(InstanceNorm1d)] = OnnxNormalizationExporters.InstanceNorm,
        [typeof(InstanceNorm2d)] = OnnxNormalizationExporters.InstanceNorm,
        [typeof(InstanceNorm3d)] = OnnxNormalizationExporters.InstanceNorm,
        [typeof(LayerNorm)] = OnnxNormalizationExporters.LayerNorm,
        [typeof(GroupNorm)] = OnnxNormalizationExporters.GroupNorm,
        [typeof(RMSNorm)] = OnnxNormalizationExporters.RmsNorm,
        [typeof(LSTM)] = OnnxRecurrentExporters.Lstm,
        [typeof(GRU)] = OnnxRecurrentExporters.Gru,
    };

    /// <summary>The exporter registered for <paramref name="module"/>'s exact type, or null.</summary>
    public static ModuleExporter? Find(Module module) => Exporters.GetValueOrDefault(module.GetType());
}
