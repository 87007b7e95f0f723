using NormSharp.Nn;
using static TorchSharp.torch;

namespace NormSharp.Oracle;

/// <summary>
/// Batch-norm edge cases against PyTorch: the smallest legal batch, spatial size 1, a constant channel,
/// a channel offset by 1e4, very large and very small eps, and a batch of one value per channel in
/// training (both must refuse it).
/// </summary>
/// <remarks>
/// A constant channel and a channel offset by 1e4 are where float32 libtorch itself is far from its float64
/// answer: its CPU kernel folds the statistics into y = x·α + β with β = bias − mean·α in float32, which cancels
/// (measured: 3e-5 off for a constant channel, 1.6e-4 for offset 1e4, against 1.6e-7 for an ordinary channel).
/// The suite compares against float64 everywhere (see <see cref="OracleCase"/>), so these cases hold NormSharp
/// to the same tolerance as the rest.
/// </remarks>
[Collection(LibTorchCollection.Name)]
public class BatchNormEdgeCaseOracleTests
{
    public static TheoryData<string, int, string, bool> Cases() => new()
    {
        // name, seed, input (N,C,*), channelsLast
        { "N=2 (N,C)", 1300, "2x5", false },
        { "N=2 (N,C,L)", 1301, "2x3x1", false },
        { "N=2 (N,C,H,W)", 1302, "2x4x3x3", true },
        { "N=2 (N,C,D,H,W)", 1303, "2x3x2x1x2", false },
        { "spatial 1x1", 1304, "3x4x1x1", false },
        { "spatial 1x1 channels-last", 1305, "3x4x1x1", true },
        { "spatial 1x1x1", 1306, "2x3x1x1x1", false },
        { "constant channel", 1307, "4x3x5x5", false },
        { "constant channel channels-last", 1308, "4x3x5x5", true },
        { "constant channel N=2 (N,C)", 1309, "2x4", false },
        { "channel offset 1e4", 1310, "8x3x4x4", false },
        { "channel offset 1e4 channels-last", 1311, "8x3x4x4", true },
        { "channel offset 1e4 std 1e-2", 1312, "8x3x4x4", false },
        { "channel offset -1e4 (N,C,L)", 1313, "16x2x8", false },
        { "eps 1e3", 1314, "4x3x3x3", false },
        { "eps 10", 1315, "4x3x3x3", true },
        { "eps 1e-12", 1316, "4x3x3x3", false },
        { "eps 0", 1317, "4x3x3x3", false },
        { "eps 1e-12 constant channel", 1318, "4x3x3x3", false },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BatchNorm_edge_case_matches_pytorch(string name, int seed, string shape, bool channelsLast)
    {
        var inputs = new Inputs(seed);
        double eps = name.StartsWith("eps ", StringComparison.Ordinal)
            ? double.Parse(name.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)
            : 1e-5;
        double offset = name.Contains("offset -1e4", StringComparison.Ordinal) ? -1e4 : name.Contains("offset 1e4", StringComparison.Ordinal) ? 1e4 : 0;
        var configuration = new BatchNormConfiguration(seed, Differential.Shape(shape), channelsLast, Affine: true, TrackRunningStats: true,
            Momentum: 0.1, eps, offset, ConstantChannel: name.Contains("constant", StringComparison.Ordinal),
            Std: name.Contains("std 1e-2", StringComparison.Ordinal) ? 1e-2 : 1);
        var check = new OracleCase(BatchNormConfiguration.LayerName(configuration.Rank) + " edge", $"{name}: {configuration}");
        BatchNormRun.TrainThenEval(check, inputs, configuration, trainingSteps: 2);
    }

    public static TheoryData<string> BatchOfOneShapes() => new() { "1x4", "1x3x1", "1x3x1x1", "1x2x1x1x1" };

    /// <summary>One value per channel in training: PyTorch's F.batch_norm raises, NormSharp must throw too.</summary>
    [Theory]
    [MemberData(nameof(BatchOfOneShapes))]
    public void Batch_of_one_in_training_throws_on_both_sides(string shape)
    {
        int[] dims = Differential.Shape(shape);
        var check = new OracleCase(BatchNormConfiguration.LayerName(dims.Length) + " edge", $"batch of one in training, input {shape}");
        using var scope = NewDisposeScope();
        var x = new Inputs(1400).Randn(dims);
        var layer = NewLayer(dims.Length, dims[1]);
        var oracle = new TorchBatchNorm(dims[1], 1e-5, 0.1, layer.Weight, layer.Bias, trackRunningStats: true, ScalarType.Float32);
        var thrown = check.BothThrow("training forward with one value per channel",
            () => layer.Forward(x), () => oracle.Forward(LibTorch.From(x)));
        Assert.IsType<ArgumentException>(thrown);
        Assert.Contains("[" + string.Join(", ", dims) + "]", thrown.Message, StringComparison.Ordinal);
        // Nothing moved on NormSharp's side.
        Assert.Equal(new float[dims[1]], layer.RunningMean!.ToArray());
    }

    /// <summary>In evaluation mode a batch of one is fine (running statistics normalize), as in PyTorch.</summary>
    [Theory]
    [MemberData(nameof(BatchOfOneShapes))]
    public void Batch_of_one_in_eval_matches_pytorch(string shape)
    {
        int[] dims = Differential.Shape(shape);
        var check = new OracleCase(BatchNormConfiguration.LayerName(dims.Length) + " edge", $"batch of one in eval, input {shape}");
        var inputs = new Inputs(1401);
        var layer = NewLayer(dims.Length, dims[1]);
        inputs.Randn(dims[1]).AsSpan().CopyTo(layer.RunningMean!.AsSpan());
        inputs.Rand(0.5, 2, dims[1]).AsSpan().CopyTo(layer.RunningVar!.AsSpan());
        inputs.Rand(0.5, 1.5, dims[1]).AsSpan().CopyTo(layer.Weight!.AsSpan());
        inputs.Randn(dims[1]).AsSpan().CopyTo(layer.Bias!.AsSpan());
        layer.Eval();
        var x = Differential.Leaf(inputs.Randn(dims));
        Differential.ForwardBackward(check, inputs, [x, layer.Weight!, layer.Bias!], ["input", "weight", "bias"],
            t => layer.Forward(t[0]),
            t => nn.functional.batch_norm(t[0], LibTorch.From(layer.RunningMean!, dtype: t[0].dtype),
                LibTorch.From(layer.RunningVar!, dtype: t[0].dtype), t[1], t[2], false, 0.1, 1e-5));
    }

    private static NormBase NewLayer(int rank, int channels) => rank switch
    {
        2 or 3 => new BatchNorm1d(channels),
        4 => new BatchNorm2d(channels),
        _ => new BatchNorm3d(channels),
    };
}
