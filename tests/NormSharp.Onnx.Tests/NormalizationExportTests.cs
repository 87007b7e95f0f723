using NormSharp.Nn;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>
/// Each normalization layer alone with non-trivial parameters and running statistics, in every form the exporter
/// writes (one node, or the formula at lower opsets), run in ONNX Runtime at two batch sizes.
/// </summary>
public class NormalizationExportTests
{
    private static readonly Dictionary<string, (Func<Module> Create, int[] Shape, int Opset, string Op)> Cases = new()
    {
        ["batch norm 1d (N, C)"] = (() => new BatchNorm1d(6), [4, 6], 17, "BatchNormalization"),
        ["batch norm 1d (N, C, L)"] = (() => new BatchNorm1d(3, eps: 1e-3), [4, 3, 7], 17, "BatchNormalization"),
        ["batch norm 2d"] = (() => new BatchNorm2d(3, momentum: 0.3), [2, 3, 5, 4], 15, "BatchNormalization"),
        ["batch norm 3d"] = (() => new BatchNorm3d(2), [2, 2, 3, 4, 5], 17, "BatchNormalization"),
        ["batch norm without affine"] = (() => new BatchNorm2d(3, affine: false), [2, 3, 5, 4], 17, "BatchNormalization"),
        ["batch norm cumulative momentum"] = (() => new BatchNorm2d(3, momentum: null), [2, 3, 5, 4], 17, "BatchNormalization"),
        ["batch norm channels last 2d"] = (() => new BatchNorm2d(3, channelAxis: -1), [2, 5, 4, 3], 17, "Transpose"),
        ["batch norm channels last 1d"] = (() => new BatchNorm1d(4, channelAxis: -1), [2, 5, 4], 17, "Transpose"),
        ["batch norm channels last 3d"] = (() => new BatchNorm3d(2, channelAxis: -1), [2, 3, 4, 5, 2], 17, "Transpose"),
        ["batch norm without running statistics"] = (() => new BatchNorm2d(3, trackRunningStats: false), [4, 3, 5, 4], 17, "ReduceMean"),
        ["batch norm without running statistics opset 18"] = (() => new BatchNorm1d(3, trackRunningStats: false), [4, 3], 18, "ReduceMean"),
        ["instance norm 2d"] = (() => new InstanceNorm2d(3), [2, 3, 5, 4], 17, "InstanceNormalization"),
        ["instance norm 1d affine"] = (() => new InstanceNorm1d(3, affine: true), [2, 3, 9], 17, "InstanceNormalization"),
        ["instance norm 3d tracked"] = (() => new InstanceNorm3d(2, affine: true, trackRunningStats: true), [2, 2, 3, 4, 3], 17, "BatchNormalization"),
        ["layer norm"] = (() => new LayerNorm([6]), [4, 6], 17, "LayerNormalization"),
        ["layer norm over (C, H, W)"] = (() => new LayerNorm([3, 4, 5], eps: 1e-3), [2, 3, 4, 5], 17, "LayerNormalization"),
        ["layer norm without affine"] = (() => new LayerNorm([6], elementwiseAffine: false), [4, 2, 6], 17, "LayerNormalization"),
        ["layer norm without bias"] = (() => new LayerNorm([6], bias: false), [4, 6], 17, "LayerNormalization"),
        ["layer norm as formula opset 15"] = (() => new LayerNorm([3, 4, 5]), [2, 3, 4, 5], 15, "ReduceMean"),
        ["group norm as formula"] = (() => new GroupNorm(2, 6), [2, 6, 4, 3], 17, "ReduceMean"),
        ["group norm as formula opset 18"] = (() => new GroupNorm(3, 6), [2, 6, 5], 18, "ReduceMean"),
        ["group norm opset 21"] = (() => new GroupNorm(2, 6), [2, 6, 4, 3], 21, "GroupNormalization"),
        ["group norm without affine opset 21"] = (() => new GroupNorm(3, 6, affine: false), [2, 6, 4, 3], 21, "GroupNormalization"),
        ["rms norm as formula"] = (() => new RMSNorm([8]), [3, 8], 17, "ReduceMean"),
        ["rms norm over two axes as formula"] = (() => new RMSNorm([3, 4], eps: 1e-5), [2, 5, 3, 4], 17, "ReduceMean"),
        ["rms norm opset 23"] = (() => new RMSNorm([8]), [3, 8], 23, "RMSNormalization"),
        ["rms norm without affine opset 23"] = (() => new RMSNorm([3, 4], elementwiseAffine: false), [2, 3, 4], 23, "RMSNormalization"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Normalization_runs_in_onnx_runtime_as_in_normsharp(string name)
    {
        var (create, shape, opset, op) = Cases[name];
        var model = ExportAndCompare(WithStatistics(create()), shape, new OnnxExportOptions { Opset = opset });
        Assert.Contains(op, OpTypes(model));
    }

    [Fact]
    public void Batch_norm_writes_epsilon_and_onnx_momentum_as_one_minus_ours()
    {
        var model = ExportAndCompare(WithStatistics(new BatchNorm2d(3, eps: 1e-3, momentum: 0.25)), [2, 3, 4, 4]);
        var node = Assert.Single(model.Graph.Node, n => n.OpType == "BatchNormalization");
        Assert.Equal(1e-3f, node.Attribute.Single(a => a.Name == "epsilon").F);
        Assert.Equal(0.75f, node.Attribute.Single(a => a.Name == "momentum").F);
    }

    [Fact]
    public void Trained_running_statistics_are_the_ones_exported()
    {
        // Running statistics from real training steps (unbiased variance, momentum), not set by hand.
        var norm = new BatchNorm2d(3);
        var generator = new Generator(4);
        for (int step = 0; step < 5; step++)
        {
            norm.Forward(Tensor.Randn(generator, 8, 3, 4, 4) * 3f + 2f);
        }
        Assert.True(norm.RunningMean!.AsSpan()[0] > 0.5f, "the running mean moved toward the batch mean 2");
        ExportAndCompare(norm, [2, 3, 4, 4]);
    }
}
