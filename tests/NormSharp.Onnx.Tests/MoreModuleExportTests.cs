using NormSharp.Distributed;
using NormSharp.Nn;
using static NormSharp.Onnx.Tests.OnnxRuntimeCheck;

namespace NormSharp.Onnx.Tests;

/// <summary>
/// The batch-norm variants (evaluated as batch norm with running statistics) and the everyday parameter-free modules,
/// each alone, run in ONNX Runtime at two batch sizes.
/// </summary>
public class MoreModuleExportTests
{
    private static readonly Dictionary<string, (Func<Module> Create, int[] Shape, string Op)> Cases = new()
    {
        ["frozen batch norm 2d"] = (() => FrozenBatchNorm2d.From(WithStatistics(new BatchNorm2d(3, eps: 1e-3))), [2, 3, 5, 4], "BatchNormalization"),
        ["batch renorm 1d"] = (() => new BatchRenorm1d(6), [4, 6], "BatchNormalization"),
        ["batch renorm 2d"] = (() => new BatchRenorm2d(3, eps: 1e-3), [2, 3, 5, 4], "BatchNormalization"),
        ["batch renorm 3d channels last"] = (() => new BatchRenorm3d(2, channelAxis: -1), [2, 3, 4, 5, 2], "Transpose"),
        ["ghost batch norm 1d (N, C, L)"] = (() => new GhostBatchNorm1d(3, virtualBatchSize: 2), [4, 3, 7], "BatchNormalization"),
        ["ghost batch norm 2d"] = (() => new GhostBatchNorm2d(3, virtualBatchSize: 2, affine: false), [2, 3, 5, 4], "BatchNormalization"),
        ["identity"] = (() => new Identity(), [3, 4], "Identity"),
        ["leaky relu"] = (() => new LeakyReLU(0.2), [4, 10], "LeakyRelu"),
        ["silu"] = (() => new SiLU(), [4, 10], "Sigmoid"),
        ["softmax last axis"] = (() => new Softmax(-1), [4, 10], "Softmax"),
        ["softmax channel axis"] = (() => new Softmax(1), [2, 5, 3, 4], "Softmax"),
        ["log softmax"] = (() => new LogSoftmax(1), [4, 10], "LogSoftmax"),
        ["log softmax middle axis of 3-D"] = (() => new LogSoftmax(-2), [2, 6, 3], "LogSoftmax"),
        ["adaptive average pool to 1x1"] = (() => new AdaptiveAvgPool2d(1), [2, 3, 7, 5], "GlobalAveragePool"),
        ["adaptive average pool divisible"] = (() => new AdaptiveAvgPool2d((2, 3)), [2, 3, 8, 9], "AveragePool"),
        ["adaptive average pool to the same size"] = (() => new AdaptiveAvgPool2d((4, 5)), [2, 3, 4, 5], "AveragePool"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Module_runs_in_onnx_runtime_as_in_normsharp(string name)
    {
        var (create, shape, op) = Cases[name];
        var model = ExportAndCompare(WithStatistics(create()), shape);
        Assert.Contains(op, OpTypes(model));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Sync_batch_norm_exports_its_evaluation_form(bool trackRunningStats)
    {
        // Evaluation never synchronizes, so a one-rank group stands for any.
        ProcessGroup.RunThreads(1, group =>
        {
            var model = ExportAndCompare(WithStatistics(new SyncBatchNorm(3, group, trackRunningStats: trackRunningStats)), [4, 3, 5]);
            Assert.Contains(trackRunningStats ? "BatchNormalization" : "ReduceMean", OpTypes(model));
        });
    }

    [Fact]
    public void Batch_renorm_in_a_sequential_after_training_uses_its_running_statistics()
    {
        var model = new Sequential(new Conv2d(2, 4, 3, generator: new Generator(5)), new BatchRenorm2d(4), new ReLU());
        var generator = new Generator(6);
        for (int step = 0; step < 4; step++)
        {
            model.Forward(Tensor.Randn(generator, 6, 2, 6, 6) * 2f + 1f);
        }
        ExportAndCompare(model, [2, 2, 6, 6]);
    }

    [Fact]
    public void Adaptive_average_pool_with_indivisible_sizes_is_not_supported_and_says_the_sizes()
    {
        var model = new Sequential(new AdaptiveAvgPool2d(3));
        model.Eval();
        var error = Assert.Throws<NotSupportedException>(() => OnnxExport.Export(model, Tensor.Randn(new Generator(0), 1, 2, 7, 6)));
        Assert.Contains("7x6", error.Message);
        Assert.Contains("3x3", error.Message);
        Assert.Contains("'0'", error.Message);
    }
}
