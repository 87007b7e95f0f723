using System.Globalization;
using NormSharp.Nn;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// InstanceNorm1d/2d/3d against PyTorch: training steps then evaluation, affine on/off, trackRunningStats
/// on/off, momentum 0.1 and null (which PyTorch's instance norm treats as 0), batched and unbatched input.
/// Each step compares output, the gradients of input, weight and bias, and the running statistics.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class InstanceNormOracleTests
{
    public static TheoryData<int, int, bool, bool, bool, string> Cases()
    {
        var data = new TheoryData<int, int, bool, bool, bool, string>();
        int seed = 2400;
        foreach (int rank in new[] { 3, 4, 5 })
        {
            foreach (bool affine in new[] { false, true })
            {
                foreach (bool track in new[] { false, true })
                {
                    foreach (string momentum in new[] { "0.1", "null" })
                    {
                        data.Add(seed++, rank, false, affine, track, momentum);
                    }
                }
            }
            data.Add(seed++, rank, true, true, true, "0.3");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InstanceNorm_training_steps_then_eval_match_pytorch(int seed, int rank, bool unbatched, bool affine, bool track, string momentum)
    {
        var inputs = new Inputs(seed);
        int[] shape = [inputs.Next(1, 5), inputs.Next(1, 6), .. Enumerable.Range(0, rank - 2).Select(_ => inputs.Next(2, 5))];
        int channels = shape[1];
        double? momentumValue = momentum == "null" ? null : double.Parse(momentum, CultureInfo.InvariantCulture);
        string name = rank switch { 3 => "InstanceNorm1d", 4 => "InstanceNorm2d", _ => "InstanceNorm3d" };
        int[] layerShape = unbatched ? shape[1..] : shape;
        var check = new OracleCase(name, $"seed={seed} input=[{string.Join(",", layerShape)}] affine={affine} trackRunningStats={track} momentum={momentum} eps=1e-5");
        NormBase layer = rank switch
        {
            3 => new InstanceNorm1d(channels, 1e-5, momentumValue, affine, track),
            4 => new InstanceNorm2d(channels, 1e-5, momentumValue, affine, track),
            _ => new InstanceNorm3d(channels, 1e-5, momentumValue, affine, track),
        };
        NormOracleTests.Randomize(inputs, layer.Weight, layer.Bias);
        using var scope = NewDisposeScope();
        var oracle = new TorchInstanceNorm(channels, 1e-5, momentumValue, layer.Weight, layer.Bias, track, OracleCase.OracleType);
        var float32 = new TorchInstanceNorm(channels, 1e-5, momentumValue, layer.Weight, layer.Bias, track, ScalarType.Float32);
        const int trainingSteps = 2;
        for (int step = 0; step <= trainingSteps; step++)
        {
            bool training = step < trainingSteps;
            if (!training)
            {
                layer.Eval();
                oracle.Training = float32.Training = false;
            }
            string label = $"step {step + 1} ({(training ? "train" : "eval")})";
            var x = Differential.Leaf(inputs.Randn(inputs.Uniform(1, -2, 2)[0], inputs.Uniform(1, 0.5, 2)[0], layerShape));
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
            TorchTensor torchY = oracle.Forward(torchX, unbatched), float32Y = float32.Forward(float32X, unbatched);
            check.Close(label + " output", y, torchY, float32Y);

            var upstream = inputs.Randn(y.Shape);
            y.Backward(upstream);
            torchY.backward([LibTorch.From(upstream, dtype: OracleCase.OracleType)]);
            float32Y.backward([LibTorch.From(upstream)]);
            check.Close(label + " grad input", x.Grad, torchX.grad, float32X.grad);
            check.Close(label + " grad weight", layer.Weight?.Grad, oracle.Weight?.grad, float32.Weight?.grad);
            check.Close(label + " grad bias", layer.Bias?.Grad, oracle.Bias?.grad, float32.Bias?.grad);
            check.Close(label + " running mean", layer.RunningMean, oracle.RunningMean, float32.RunningMean);
            check.Close(label + " running var", layer.RunningVar, oracle.RunningVar, float32.RunningVar);
        }
        // PyTorch's instance norm never counts batches.
        Assert.Equal(0, layer.NumBatchesTracked);
    }

    /// <summary>One spatial element in training: PyTorch's F.instance_norm refuses it, and so must NormSharp.</summary>
    [Theory]
    [InlineData("3x4x1")]
    [InlineData("2x3x1x1")]
    public void InstanceNorm_with_one_spatial_element_throws_on_both_sides(string shape)
    {
        int[] dims = Differential.Shape(shape);
        var check = new OracleCase("InstanceNorm edge", $"one spatial element in training, input [{shape}]");
        using var scope = NewDisposeScope();
        var x = new Inputs(2450).Randn(dims);
        NormBase layer = dims.Length == 3 ? new InstanceNorm1d(dims[1]) : new InstanceNorm2d(dims[1]);
        var oracle = new TorchInstanceNorm(dims[1], 1e-5, 0.1, null, null, trackRunningStats: false, ScalarType.Float32);
        var thrown = check.BothThrow("training forward with one spatial element",
            () => layer.Forward(x), () => oracle.Forward(LibTorch.From(x), unbatched: false));
        Assert.IsType<ArgumentException>(thrown);
    }
}
