using System.Globalization;
using NormSharp.Functional;
using NormSharp.Nn;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// BatchNorm1d/2d/3d against PyTorch: several training steps, then evaluation, with every combination of
/// affine, trackRunningStats, momentum (0.1, 0.3, null = cumulative average), two eps values, and
/// channels-first or channels-last input (libtorch gets the permuted tensor). Each step compares the output,
/// the gradients of input, weight and bias under a random upstream gradient, the running mean and variance,
/// and num_batches_tracked.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class BatchNormOracleTests
{
    private const int TrainingSteps = 3;

    public static TheoryData<int, int, bool, bool, bool, string, double> TrainThenEvalCases()
    {
        var data = new TheoryData<int, int, bool, bool, bool, string, double>();
        int seed = 1000;
        foreach (int rank in new[] { 2, 3, 4, 5 })
        {
            foreach (bool channelsLast in new[] { false, true })
            {
                foreach (bool affine in new[] { true, false })
                {
                    foreach (bool track in new[] { true, false })
                    {
                        foreach (string momentum in new[] { "0.1", "0.3", "null" })
                        {
                            foreach (double eps in new[] { 1e-5, 1e-3 })
                            {
                                data.Add(seed++, rank, channelsLast, affine, track, momentum, eps);
                            }
                        }
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(TrainThenEvalCases))]
    public void BatchNorm_training_steps_then_eval_match_pytorch(
        int seed, int rank, bool channelsLast, bool affine, bool track, string momentum, double eps)
    {
        var inputs = new Inputs(seed);
        // Shapes vary with the seed: N in [2, 6], C in [1, 6], spatial sizes in [1, 4].
        int[] channelsFirstShape = [inputs.Next(2, 7), inputs.Next(1, 7), .. Enumerable.Range(0, rank - 2).Select(_ => inputs.Next(1, 5))];
        double? momentumValue = momentum == "null" ? null : double.Parse(momentum, CultureInfo.InvariantCulture);
        var configuration = new BatchNormConfiguration(seed, channelsFirstShape, channelsLast, affine, track, momentumValue, eps);
        var check = new OracleCase(BatchNormConfiguration.LayerName(rank), configuration.ToString());
        BatchNormRun.TrainThenEval(check, inputs, configuration, TrainingSteps);
    }

    public static TheoryData<int, string, int> FunctionalChannelAxisCases() => new()
    {
        { 1200, "4x3x5", 2 }, { 1201, "3x4x2x5", 2 }, { 1202, "3x4x2x5", 3 }, { 1203, "2x3x4x2x3", 3 },
        { 1204, "5x6", -1 }, { 1205, "2x5x3x4", -2 },
    };

    /// <summary>F.BatchNorm with the channels on an arbitrary axis equals libtorch on the tensor permuted to (N, C, *).</summary>
    [Theory]
    [MemberData(nameof(FunctionalChannelAxisCases))]
    public void Functional_batch_norm_on_any_channel_axis_matches_pytorch(int seed, string shape, int channelAxis)
    {
        var check = new OracleCase("F.BatchNorm", $"seed={seed} shape={shape} channelAxis={channelAxis} training=True momentum=0.2");
        var inputs = new Inputs(seed);
        var x = Differential.Leaf(inputs.Randn(0.7, 1.9, Differential.Shape(shape)));
        int rank = x.Rank, axis = channelAxis < 0 ? channelAxis + rank : channelAxis, channels = x.Size(axis);
        var weight = Differential.Leaf(inputs.Rand(0.5, 1.5, channels));
        var bias = Differential.Leaf(inputs.Randn(channels));
        var runningMean = inputs.Randn(channels);
        var runningVar = inputs.Rand(0.5, 2, channels);
        using var scope = NewDisposeScope();
        var torchRunningMean = LibTorch.From(runningMean, dtype: OracleCase.OracleType);
        var torchRunningVar = LibTorch.From(runningVar, dtype: OracleCase.OracleType);
        var float32RunningMean = LibTorch.From(runningMean);
        var float32RunningVar = LibTorch.From(runningVar);
        // Move the channel axis to 1 for libtorch, and back afterwards.
        long[] toFirst = [0, axis, .. Enumerable.Range(1, rank - 1).Where(d => d != axis).Select(d => (long)d)];
        long[] toOriginal = new long[rank];
        for (int i = 0; i < rank; i++)
        {
            toOriginal[toFirst[i]] = i;
        }
        Differential.ForwardBackward(check, inputs, [x, weight, bias], ["input", "weight", "bias"],
            t => F.BatchNorm(t[0], runningMean, runningVar, t[1], t[2], training: true, momentum: 0.2, eps: 1e-5, channelAxis: channelAxis),
            t => nn.functional.batch_norm(t[0].permute(toFirst),
                t[0].dtype == ScalarType.Float32 ? float32RunningMean : torchRunningMean,
                t[0].dtype == ScalarType.Float32 ? float32RunningVar : torchRunningVar,
                t[1], t[2], true, 0.2, 1e-5).permute(toOriginal));
        check.Close("running mean", runningMean, torchRunningMean);
        check.Close("running var", runningVar, torchRunningVar);
    }
}

/// <summary>One batch-norm configuration; its text is what a failure prints.</summary>
internal sealed record BatchNormConfiguration(
    int Seed, int[] ChannelsFirstShape, bool ChannelsLast, bool Affine, bool TrackRunningStats, double? Momentum, double Eps,
    double Offset = 0, bool ConstantChannel = false, double Std = 1)
{
    public int Rank => ChannelsFirstShape.Length;

    public int Channels => ChannelsFirstShape[1];

    public static string LayerName(int rank) => rank switch { 2 or 3 => "BatchNorm1d", 4 => "BatchNorm2d", _ => "BatchNorm3d" };

    public override string ToString()
    {
        var text = new System.Text.StringBuilder();
        var momentum = Momentum is double m ? m.ToString(CultureInfo.InvariantCulture) : "null";
        text.Append(CultureInfo.InvariantCulture,
            $"{LayerName(Rank)} seed={Seed} input(N,C,*)=[{string.Join(",", ChannelsFirstShape)}] channelsLast={ChannelsLast} affine={Affine} ");
        text.Append(CultureInfo.InvariantCulture, $"trackRunningStats={TrackRunningStats} momentum={momentum} eps={Eps:G}");
        if (Offset != 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" channel0Offset={Offset:G}");
        }
        if (Std != 1)
        {
            text.Append(CultureInfo.InvariantCulture, $" channel0Std={Std:G}");
        }
        if (ConstantChannel)
        {
            text.Append(" constantChannel0");
        }
        return text.ToString();
    }
}

/// <summary>The steps of a batch-norm differential case, shared by the random and the edge cases.</summary>
internal static class BatchNormRun
{
    /// <summary>
    /// <paramref name="trainingSteps"/> training forwards and backwards, then one in evaluation mode, each compared in
    /// full against the PyTorch port (<see cref="TorchBatchNorm"/>) in float64; a float32 twin runs alongside for the report.
    /// </summary>
    public static void TrainThenEval(OracleCase check, Inputs inputs, BatchNormConfiguration c, int trainingSteps)
    {
        using var scope = NewDisposeScope();
        int rank = c.Rank;
        int channelAxis = c.ChannelsLast ? -1 : 1;
        NormBase layer = rank switch
        {
            2 or 3 => new BatchNorm1d(c.Channels, c.Eps, c.Momentum, c.Affine, c.TrackRunningStats, channelAxis),
            4 => new BatchNorm2d(c.Channels, c.Eps, c.Momentum, c.Affine, c.TrackRunningStats, channelAxis),
            _ => new BatchNorm3d(c.Channels, c.Eps, c.Momentum, c.Affine, c.TrackRunningStats, channelAxis),
        };
        if (c.Affine)
        {
            // Not ones and zeros: the affine terms of the gradient must carry weight.
            inputs.Uniform(c.Channels, 0.5, 1.5).CopyTo(layer.Weight!.AsSpan());
            inputs.Normal(c.Channels).CopyTo(layer.Bias!.AsSpan());
        }
        var oracle = new TorchBatchNorm(c.Channels, c.Eps, c.Momentum, layer.Weight, layer.Bias, c.TrackRunningStats, OracleCase.OracleType);
        var float32 = new TorchBatchNorm(c.Channels, c.Eps, c.Momentum, layer.Weight, layer.Bias, c.TrackRunningStats, ScalarType.Float32);
        long[] lastToFirst = [0, rank - 1, .. Enumerable.Range(1, rank - 2).Select(d => (long)d)];
        long[] firstToLast = [0, .. Enumerable.Range(2, rank - 2).Select(d => (long)d), 1];
        TorchTensor Run(TorchBatchNorm module, TorchTensor x) =>
            c.ChannelsLast ? module.Forward(x.permute(lastToFirst)).permute(firstToLast) : module.Forward(x);

        for (int step = 0; step <= trainingSteps; step++)
        {
            bool training = step < trainingSteps;
            if (!training)
            {
                layer.Eval();
                oracle.Training = false;
                float32.Training = false;
            }
            string label = $"step {step + 1} ({(training ? "train" : "eval")})";
            var x = Differential.Leaf(Input(inputs, c));
            if (layer.Weight is not null)
            {
                layer.Weight.Grad = null;
                layer.Bias!.Grad = null;
            }
            oracle.ZeroGrad();
            float32.ZeroGrad();
            var torchX = LibTorch.From(x, requiresGrad: true, OracleCase.OracleType);
            var float32X = LibTorch.From(x, requiresGrad: true, ScalarType.Float32);

            var y = layer.Forward(x);
            var torchY = Run(oracle, torchX);
            var float32Y = Run(float32, float32X);
            check.Close(label + " output", y, torchY, float32Y);

            var upstream = inputs.Randn(y.Shape);
            y.Backward(upstream);
            torchY.backward([LibTorch.From(upstream, dtype: OracleCase.OracleType)]);
            float32Y.backward([LibTorch.From(upstream, dtype: ScalarType.Float32)]);
            check.Close(label + " grad input", x.Grad, torchX.grad, float32X.grad);
            check.Close(label + " grad weight", layer.Weight?.Grad, oracle.Weight?.grad, float32.Weight?.grad);
            check.Close(label + " grad bias", layer.Bias?.Grad, oracle.Bias?.grad, float32.Bias?.grad);
            check.Close(label + " running mean", layer.RunningMean, oracle.RunningMean, float32.RunningMean);
            check.Close(label + " running var", layer.RunningVar, oracle.RunningVar, float32.RunningVar);
            Assert.True(layer.NumBatchesTracked == oracle.NumBatchesTracked,
                $"{check.Layer} {label} num_batches_tracked: NormSharp {layer.NumBatchesTracked}, PyTorch {oracle.NumBatchesTracked}.\nConfiguration: {check.Configuration}");
        }
    }

    /// <summary>A fresh batch in the layer's layout: per-channel shift and scale, optional edge-case channels.</summary>
    public static Tensor Input(Inputs inputs, BatchNormConfiguration c)
    {
        int[] shape = c.ChannelsFirstShape;
        int batch = shape[0], channels = shape[1], spatial = shape[2..].Aggregate(1, (a, b) => a * b);
        var data = new float[batch * channels * spatial];
        for (int ch = 0; ch < channels; ch++)
        {
            double shift = inputs.Uniform(1, -3, 3)[0], scale = inputs.Uniform(1, 0.3, 3)[0];
            if (ch == 0 && (c.Offset != 0 || c.Std != 1))
            {
                (shift, scale) = (c.Offset, c.Std);
            }
            float constant = inputs.Normal(1)[0];
            for (int n = 0; n < batch; n++)
            {
                var values = inputs.Normal(spatial, shift, scale);
                for (int i = 0; i < spatial; i++)
                {
                    data[(n * channels + ch) * spatial + i] = ch == 0 && c.ConstantChannel ? constant : values[i];
                }
            }
        }
        var channelsFirst = Tensor.FromArray(data, shape);
        if (!c.ChannelsLast)
        {
            return channelsFirst;
        }
        int rank = shape.Length;
        return channelsFirst.Permute([0, .. Enumerable.Range(2, rank - 2), 1]).Detach().Clone();
    }
}
