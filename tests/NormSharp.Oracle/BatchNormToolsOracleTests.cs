using NormSharp.Nn;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// The batch-norm toolkit against libtorch in float64: <c>BatchNormStatistics.Update</c> equals PyTorch's
/// <c>swa_utils.update_bn</c> recipe (batch norms with momentum None, reset, run in training mode over the same batches)
/// on a conv → BN2d → ReLU → linear → BN1d model; Conv2d/Linear → batch-norm folding equals
/// <c>torch.nn.utils.fusion</c>'s formulas computed by libtorch (fused weight, bias, and the fused layer's output) and
/// the unfused pair in evaluation.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class BatchNormToolsOracleTests
{
    [Theory]
    [InlineData(4100, "5,3,6")]
    [InlineData(4101, "2,2,2,7")]
    public void Update_equals_pytorch_update_bn(int seed, string batchSizes)
    {
        var check = new OracleCase("BatchNormStatistics.Update", $"seed={seed} batches={batchSizes}");
        var inputs = new Inputs(seed);
        var conv = new Conv2d(2, 3, 3, padding: 1, generator: new Generator(seed));
        var norm2d = new BatchNorm2d(3, momentum: 0.2);
        var linear = new Linear(3 * 4 * 4, 4, generator: new Generator(seed + 1));
        var norm1d = new BatchNorm1d(4, eps: 1e-3);
        foreach (var norm in new BatchNormBase[] { norm2d, norm1d })
        {
            inputs.Uniform(norm.NumFeatures, 0.5, 1.5).CopyTo(norm.Weight!.AsSpan());
            inputs.Normal(norm.NumFeatures).CopyTo(norm.Bias!.AsSpan());
            inputs.Normal(norm.NumFeatures).CopyTo(norm.RunningMean!.AsSpan());   // stale statistics, to be discarded
        }
        var model = new Sequential(conv, norm2d, new ReLU(), new Flatten(), linear, norm1d);
        model.Eval();
        var batches = batchSizes.Split(',').Select(n => inputs.Randn(1.0, 2.0, int.Parse(n, System.Globalization.CultureInfo.InvariantCulture), 2, 4, 4)).ToList();

        BatchNormStatistics.Update(model, batches);

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var type = OracleCase.OracleType;
        var torchNorm2d = new TorchBatchNorm(3, 1e-5, null, norm2d.Weight, norm2d.Bias, true, type);
        var torchNorm1d = new TorchBatchNorm(4, 1e-3, null, norm1d.Weight, norm1d.Bias, true, type);
        var convWeight = LibTorch.From(conv.Weight, dtype: type);
        var convBias = LibTorch.From(conv.Bias!, dtype: type);
        var linearWeight = LibTorch.From(linear.Weight, dtype: type);
        var linearBias = LibTorch.From(linear.Bias!, dtype: type);
        foreach (var batch in batches)
        {
            var hidden = nn.functional.conv2d(LibTorch.From(batch, dtype: type), convWeight, convBias, padding: [1, 1]);
            hidden = nn.functional.relu(torchNorm2d.Forward(hidden)).flatten(1);
            torchNorm1d.Forward(nn.functional.linear(hidden, linearWeight, linearBias));
        }
        check.Close("BatchNorm2d running mean", norm2d.RunningMean, torchNorm2d.RunningMean);
        check.Close("BatchNorm2d running var", norm2d.RunningVar, torchNorm2d.RunningVar);
        check.Close("BatchNorm1d running mean", norm1d.RunningMean, torchNorm1d.RunningMean);
        check.Close("BatchNorm1d running var", norm1d.RunningVar, torchNorm1d.RunningVar);
        check.Close("num_batches_tracked", norm1d.NumBatchesTracked, torchNorm1d.NumBatchesTracked);
        Assert.Equal(0.2, norm2d.Momentum);
        Assert.False(model.Training);
    }

    private static void RandomStatistics(Inputs inputs, BatchNormBase bn)
    {
        if (bn.Weight is not null)
        {
            inputs.Uniform(bn.NumFeatures, -1.5, 1.5).CopyTo(bn.Weight.AsSpan());
            inputs.Normal(bn.NumFeatures).CopyTo(bn.Bias!.AsSpan());
        }
        inputs.Normal(bn.NumFeatures, 0.3, 2).CopyTo(bn.RunningMean!.AsSpan());
        inputs.Uniform(bn.NumFeatures, 0.05, 4).CopyTo(bn.RunningVar!.AsSpan());
    }

    /// <summary>torch.nn.utils.fusion's fused weight and bias, in libtorch: W · s and (b − mean) · s + β, s = γ · rsqrt(var + eps).</summary>
    private static (TorchTensor Weight, TorchTensor Bias) TorchFusion(Tensor weight, Tensor? bias, BatchNormBase bn)
    {
        var type = OracleCase.OracleType;
        var runningMean = LibTorch.From(bn.RunningMean!, dtype: type);
        var scale = rsqrt(LibTorch.From(bn.RunningVar!, dtype: type) + bn.Eps);
        if (bn.Weight is not null)
        {
            scale = LibTorch.From(bn.Weight, dtype: type) * scale;
        }
        var shift = bn.Bias is null ? zeros_like(runningMean) : LibTorch.From(bn.Bias, dtype: type);
        var layerBias = bias is null ? zeros_like(runningMean) : LibTorch.From(bias, dtype: type);
        long[] scaleShape = [-1, .. Enumerable.Repeat(1L, weight.Rank - 1)];
        return (LibTorch.From(weight, dtype: type) * scale.reshape(scaleShape), (layerBias - runningMean) * scale + shift);
    }

    [Theory]
    [InlineData(4200, true, true, 1)]
    [InlineData(4201, false, true, 3)]
    [InlineData(4202, true, false, 1)]
    [InlineData(4203, false, false, 3)]
    public void Fused_conv_equals_libtorch_fusion_in_float64(int seed, bool convBias, bool affine, int groups)
    {
        var check = new OracleCase("Fusion.FuseConvBatchNorm", $"seed={seed} convBias={convBias} affine={affine} groups={groups}");
        var inputs = new Inputs(seed);
        var conv = new Conv2d(6, 9, 3, stride: 2, padding: 1, groups: groups, bias: convBias, generator: new Generator(seed));
        var bn = new BatchNorm2d(9, eps: 1e-4, affine: affine);
        RandomStatistics(inputs, bn);
        conv.Eval();
        bn.Eval();
        var fused = Fusion.FuseConvBatchNorm(conv, bn);
        var x = inputs.Randn(3, 6, 9, 8);

        using var scope = NewDisposeScope();
        var type = OracleCase.OracleType;
        var (weight, bias) = TorchFusion(conv.Weight, conv.Bias, bn);
        check.Close("fused weight", fused.Weight, weight);
        check.Close("fused bias", fused.Bias, bias);
        var torchInput = LibTorch.From(x, dtype: type);
        check.Close("fused output", fused.Forward(x), nn.functional.conv2d(torchInput, weight, bias, [2, 2], [1, 1], groups: groups));
        var pair = nn.functional.batch_norm(
            nn.functional.conv2d(torchInput, LibTorch.From(conv.Weight, dtype: type), conv.Bias is null ? null : LibTorch.From(conv.Bias, dtype: type), [2, 2], [1, 1], groups: groups),
            LibTorch.From(bn.RunningMean!, dtype: type), LibTorch.From(bn.RunningVar!, dtype: type),
            bn.Weight is null ? null : LibTorch.From(bn.Weight, dtype: type), bn.Bias is null ? null : LibTorch.From(bn.Bias, dtype: type), false, 0.1, bn.Eps);
        check.Close("fused output vs unfused pair", fused.Forward(x), pair);
    }

    [Theory]
    [InlineData(4300, true, true)]
    [InlineData(4301, false, false)]
    public void Fused_linear_equals_libtorch_fusion_in_float64(int seed, bool linearBias, bool affine)
    {
        var check = new OracleCase("Fusion.FuseLinearBatchNorm", $"seed={seed} linearBias={linearBias} affine={affine}");
        var inputs = new Inputs(seed);
        var linear = new Linear(12, 7, bias: linearBias, generator: new Generator(seed));
        var bn = new BatchNorm1d(7, affine: affine);
        RandomStatistics(inputs, bn);
        linear.Eval();
        bn.Eval();
        var fused = Fusion.FuseLinearBatchNorm(linear, bn);
        var x = inputs.Randn(5, 12);

        using var scope = NewDisposeScope();
        var (weight, bias) = TorchFusion(linear.Weight, linear.Bias, bn);
        check.Close("fused weight", fused.Weight, weight);
        check.Close("fused bias", fused.Bias, bias);
        check.Close("fused output", fused.Forward(x), nn.functional.linear(LibTorch.From(x, dtype: OracleCase.OracleType), weight, bias));
    }
}
