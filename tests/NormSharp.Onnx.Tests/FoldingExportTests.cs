using System.Runtime.InteropServices;
using NormSharp.Nn;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>
/// The export option FoldBatchNorm folds with the library's <see cref="Fusion"/>: the exported weights are
/// <see cref="Fusion.FuseSequential"/>'s, bit for bit, for every batch-norm kind Fusion folds, and ONNX Runtime agrees.
/// </summary>
public class FoldingExportTests
{
    public static TheoryData<string> NormKinds => ["batch norm", "batch renorm", "ghost batch norm", "frozen batch norm"];

    [Theory]
    [MemberData(nameof(NormKinds))]
    public void Folded_conv_carries_the_weights_fusion_computes(string kind)
    {
        Module norm = kind switch
        {
            "batch norm" => WithStatistics(new BatchNorm2d(4)),
            "batch renorm" => WithStatistics(new BatchRenorm2d(4)),
            "ghost batch norm" => WithStatistics(new GhostBatchNorm2d(4, virtualBatchSize: 2)),
            _ => FrozenBatchNorm2d.From(WithStatistics(new BatchNorm2d(4, eps: 1e-3))),
        };
        var model = new Sequential(new Conv2d(2, 4, 3, padding: 1, bias: false, generator: new Generator(3)), norm, new ReLU());
        var exported = ExportAndCompare(model, [2, 2, 5, 6], new OnnxExportOptions { FoldBatchNorm = true });
        Assert.Equal(["Conv", "Relu", "Identity"], OpTypes(exported));

        var fused = (Conv2d)Fusion.FuseSequential(model)[0];
        Assert.Equal(fused.Weight.ToArray(), Initializer(exported, "0.weight"));
        Assert.Equal(fused.Bias!.ToArray(), Initializer(exported, "0.bias"));
    }

    [Fact]
    public void Folded_linear_on_3d_input_with_channels_last_batch_norm_carries_fusions_weights()
    {
        var model = WithStatistics(new Sequential(
            new Linear(6, 5, generator: new Generator(4)), new BatchNorm1d(5, channelAxis: -1), new Tanh()));
        var exported = ExportAndCompare(model, [2, 3, 6], new OnnxExportOptions { FoldBatchNorm = true });
        Assert.Equal(["MatMul", "Add", "Tanh", "Identity"], OpTypes(exported));

        var fused = (Linear)Fusion.FuseSequential(model)[0];
        Assert.Equal(fused.Bias!.ToArray(), Initializer(exported, "0.bias"));
    }

    private static float[] Initializer(Protobuf.ModelProto model, string name) =>
        MemoryMarshal.Cast<byte, float>(model.Graph.Initializer.Single(t => t.Name == name).RawData.Span).ToArray();
}
