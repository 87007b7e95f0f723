using NormSharp.Nn;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// The batch-norm toolkit against libtorch in float64: <c>BatchNormStatistics.Update</c> equals PyTorch's
/// <c>swa_utils.update_bn</c> recipe (batch norms with momentum None, reset, run in training mode over the same batches)
/// on a conv → BN2d → ReLU → linear → BN1d model; Conv2d/Linear → batch-norm folding equals
/// <c>torch.nn.utils.fusion</c>'s formulas computed by libtorch (fused weight, bias, and the fused layer's output) and
/// the unfused pair in evaluation; BatchRenorm2d against the paper's Algorithm 1 composed from libtorch ops (r and d
/// detached); GhostBatchNorm2d against libtorch's batch_norm on each chunk in turn.
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
    /// <summary>
    /// BatchRenorm2d's training step against the paper's Algorithm 1 composed from libtorch ops in float64, with r and d
    /// detached (the stop-gradient): output, gradients of input, weight and bias, and the running statistics. The
    /// running statistics put some channels' r and d inside the bounds and clip others.
    /// </summary>
    [Theory]
    [InlineData(4400, 3.0, 5.0)]
    [InlineData(4401, 1.5, 0.5)]
    public void BatchRenorm_training_step_equals_the_paper_composed_in_libtorch(int seed, double rMax, double dMax)
    {
        var check = new OracleCase("BatchRenorm2d", $"seed={seed} rMax={rMax} dMax={dMax}");
        var inputs = new Inputs(seed);
        int channels = 4;
        var renorm = new BatchRenorm2d(channels, momentum: 0.2, rMax: rMax, dMax: dMax);
        inputs.Uniform(channels, 0.5, 1.5).CopyTo(renorm.Weight!.AsSpan());
        inputs.Normal(channels).CopyTo(renorm.Bias!.AsSpan());
        float[] runningMean = [0.4f, -6f, 2.5f, 1f];
        float[] runningVar = [1.2f, 0.01f, 30f, 3f];
        runningMean.CopyTo(renorm.RunningMean!.AsSpan());
        runningVar.CopyTo(renorm.RunningVar!.AsSpan());
        var x = Differential.Leaf(inputs.Randn(0.8, 1.7, 3, channels, 3, 2));
        var upstream = inputs.Randn(x.Shape);
        var y = renorm.Forward(x);
        y.Backward(upstream);

        using var scope = NewDisposeScope();
        var type = OracleCase.OracleType;
        var tx = LibTorch.From(x, requiresGrad: true, type);
        var weight = LibTorch.From(renorm.Weight, requiresGrad: true, type);
        var bias = LibTorch.From(renorm.Bias, requiresGrad: true, type);
        var mean0 = LibTorch.From(runningMean, [channels], dtype: type);
        var var0 = LibTorch.From(runningVar, [channels], dtype: type);
        long[] reduced = [0, 2, 3];
        long[] perChannel = [1, channels, 1, 1];
        var batchMean = tx.mean(reduced, keepdim: true);
        var batchStd = (tx.var(reduced, unbiased: false, keepdim: true) + renorm.Eps).sqrt();
        var runningStd = (var0 + renorm.Eps).sqrt().reshape(perChannel);
        var r = (batchStd / runningStd).detach().clamp(1 / rMax, rMax);
        var d = ((batchMean - mean0.reshape(perChannel)) / runningStd).detach().clamp(-dMax, dMax);
        var expected = ((tx - batchMean) / batchStd * r + d) * weight.reshape(perChannel) + bias.reshape(perChannel);
        expected.backward([LibTorch.From(upstream, dtype: type)]);
        check.Close("output", y, expected);
        check.Close("grad input", x.Grad, tx.grad);
        check.Close("grad weight", renorm.Weight.Grad, weight.grad);
        check.Close("grad bias", renorm.Bias.Grad, bias.grad);
        using var noGrad = no_grad();
        check.Close("running mean", renorm.RunningMean, 0.8 * mean0 + 0.2 * batchMean.flatten());
        check.Close("running var", renorm.RunningVar, 0.8 * var0 + 0.2 * tx.var(reduced, unbiased: true));
    }

    /// <summary>GhostBatchNorm2d against libtorch's batch_norm applied to each chunk in turn (torch.split), float64: output, gradients, running statistics.</summary>
    [Theory]
    [InlineData(4500, 8, 4, "0.1")]
    [InlineData(4501, 7, 3, "null")]
    public void GhostBatchNorm_equals_pytorch_batch_norm_per_chunk(int seed, int batch, int virtualBatchSize, string momentum)
    {
        var check = new OracleCase("GhostBatchNorm2d", $"seed={seed} batch={batch} virtualBatchSize={virtualBatchSize} momentum={momentum}");
        var inputs = new Inputs(seed);
        int channels = 3;
        double? m = momentum == "null" ? null : double.Parse(momentum, System.Globalization.CultureInfo.InvariantCulture);
        var ghost = new GhostBatchNorm2d(channels, virtualBatchSize, momentum: m);
        inputs.Uniform(channels, 0.5, 1.5).CopyTo(ghost.Weight!.AsSpan());
        inputs.Normal(channels).CopyTo(ghost.Bias!.AsSpan());
        var x = Differential.Leaf(inputs.Randn(0.5, 2, batch, channels, 2, 3));
        var upstream = inputs.Randn(x.Shape);
        var y = ghost.Forward(x);
        y.Backward(upstream);

        using var scope = NewDisposeScope();
        var type = OracleCase.OracleType;
        var tx = LibTorch.From(x, requiresGrad: true, type);
        var torchNorm = new TorchBatchNorm(channels, 1e-5, m, ghost.Weight, ghost.Bias, true, type);
        var expected = cat(tx.split(virtualBatchSize).Select(torchNorm.Forward).ToList(), 0);
        expected.backward([LibTorch.From(upstream, dtype: type)]);
        check.Close("output", y, expected);
        check.Close("grad input", x.Grad, tx.grad);
        check.Close("grad weight", ghost.Weight.Grad, torchNorm.Weight!.grad);
        check.Close("grad bias", ghost.Bias.Grad, torchNorm.Bias!.grad);
        check.Close("running mean", ghost.RunningMean, torchNorm.RunningMean);
        check.Close("running var", ghost.RunningVar, torchNorm.RunningVar);
        check.Close("num_batches_tracked", ghost.NumBatchesTracked, torchNorm.NumBatchesTracked);
    }
}
