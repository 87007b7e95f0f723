using System.Globalization;
using NormSharp.Nn;
using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;

namespace NormSharp.Oracle;

/// <summary>
/// LayerNorm, GroupNorm and RMSNorm modules against PyTorch: output and the gradients of input, weight and
/// bias under a random upstream gradient, with random (not identity) affine parameters.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class NormOracleTests
{
    public static TheoryData<int, string, int, string, double> LayerNormCases()
    {
        var data = new TheoryData<int, string, int, string, double>();
        int seed = 2000;
        foreach (var (shape, normalizedDims) in new[] { ("4x10", 1), ("2x3x8", 1), ("2x3x8", 2), ("3x4x5x6", 3), ("5x1", 1), ("6x64", 1), ("2x2x3x3", 2) })
        {
            foreach (string affine in new[] { "weight+bias", "weight", "none" })
            {
                foreach (double eps in new[] { 1e-5, 1e-2 })
                {
                    data.Add(seed++, shape, normalizedDims, affine, eps);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(LayerNormCases))]
    public void LayerNorm_matches_pytorch(int seed, string shape, int normalizedDims, string affine, double eps)
    {
        var check = new OracleCase("LayerNorm", string.Create(CultureInfo.InvariantCulture, $"seed={seed} input=[{shape}] normalizedDims={normalizedDims} affine={affine} eps={eps:G}"));
        var inputs = new Inputs(seed);
        int[] inputShape = Shape(shape);
        int[] normalizedShape = inputShape[^normalizedDims..];
        var layer = new LayerNorm(normalizedShape, eps, elementwiseAffine: affine != "none", bias: affine == "weight+bias");
        Randomize(inputs, layer.Weight, layer.Bias);
        var x = Leaf(inputs.Randn(1.5, 2, inputShape));
        long[] torchShape = normalizedShape.Select(d => (long)d).ToArray();
        ForwardBackward(check, inputs, Leaves(x, layer.Weight, layer.Bias), ["input", "weight", "bias"],
            t => layer.Forward(t[0]),
            t => nn.functional.layer_norm(t[0], torchShape, layer.Weight is null ? null : t[1], layer.Bias is null ? null : t[2], eps));
    }

    public static TheoryData<int, string, int, bool, double> GroupNormCases()
    {
        var data = new TheoryData<int, string, int, bool, double>();
        int seed = 2100;
        foreach (var (shape, groups) in new[]
                 {
                     ("2x6x4x4", 1), ("2x6x4x4", 2), ("2x6x4x4", 3), ("2x6x4x4", 6), ("3x4x5", 1), ("3x4x5", 2), ("3x4x5", 4),
                     ("2x8", 2), ("2x8", 4), ("1x6x3x3", 3), ("2x4x2x2x3", 2), ("4x2x1x1", 1),
                 })
        {
            foreach (bool affine in new[] { true, false })
            {
                data.Add(seed++, shape, groups, affine, affine ? 1e-5 : 1e-3);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(GroupNormCases))]
    public void GroupNorm_matches_pytorch(int seed, string shape, int groups, bool affine, double eps)
    {
        var check = new OracleCase("GroupNorm", string.Create(CultureInfo.InvariantCulture, $"seed={seed} input=[{shape}] numGroups={groups} affine={affine} eps={eps:G}"));
        var inputs = new Inputs(seed);
        int[] inputShape = Shape(shape);
        var layer = new GroupNorm(groups, inputShape[1], eps, affine);
        Randomize(inputs, layer.Weight, layer.Bias);
        var x = Leaf(inputs.Randn(-0.5, 1.5, inputShape));
        ForwardBackward(check, inputs, Leaves(x, layer.Weight, layer.Bias), ["input", "weight", "bias"],
            t => layer.Forward(t[0]),
            t => TorchNorms.GroupNorm(t[0], groups, affine ? t[1] : null, affine ? t[2] : null, eps));
    }

    public static TheoryData<int, string, int, bool, string> RmsNormCases()
    {
        var data = new TheoryData<int, string, int, bool, string>();
        int seed = 2200;
        foreach (var (shape, normalizedDims) in new[] { ("4x10", 1), ("2x3x8", 1), ("2x3x8", 2), ("3x2x4x5", 3), ("6x64", 1), ("5x1", 1) })
        {
            foreach (bool affine in new[] { true, false })
            {
                foreach (string eps in new[] { "null", "1e-6", "0.01" })
                {
                    data.Add(seed++, shape, normalizedDims, affine, eps);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(RmsNormCases))]
    public void RMSNorm_matches_pytorch(int seed, string shape, int normalizedDims, bool affine, string eps)
    {
        var check = new OracleCase("RMSNorm", $"seed={seed} input=[{shape}] normalizedDims={normalizedDims} affine={affine} eps={eps}");
        var inputs = new Inputs(seed);
        int[] inputShape = Shape(shape);
        double? epsValue = eps == "null" ? null : double.Parse(eps, CultureInfo.InvariantCulture);
        var layer = new RMSNorm(inputShape[^normalizedDims..], epsValue, affine);
        Randomize(inputs, layer.Weight, null);
        var x = Leaf(inputs.Randn(0.3, 1.2, inputShape));
        ForwardBackward(check, inputs, Leaves(x, layer.Weight, null), ["input", "weight"],
            t => layer.Forward(t[0]),
            t => TorchNorms.RmsNorm(t[0], normalizedDims, affine ? t[1] : null, epsValue ?? TorchNorms.Float32Eps));
    }

    /// <summary>One value per group: PyTorch's F.group_norm refuses it, and so must NormSharp.</summary>
    [Theory]
    [InlineData("1x4", 4)]
    [InlineData("1x6x1x1", 6)]
    public void GroupNorm_with_one_value_per_group_throws_on_both_sides(string shape, int groups)
    {
        var check = new OracleCase("GroupNorm edge", $"one value per group, input [{shape}] numGroups={groups}");
        using var scope = NewDisposeScope();
        var x = new Inputs(2300).Randn(Shape(shape));
        var layer = new GroupNorm(groups, x.Size(1));
        var thrown = check.BothThrow("forward with one value per group",
            () => layer.Forward(x), () => TorchNorms.GroupNorm(LibTorch.From(x), groups, null, null, 1e-5));
        Assert.IsType<ArgumentException>(thrown);
    }

    internal static void Randomize(Inputs inputs, Tensor? weight, Tensor? bias)
    {
        if (weight is not null)
        {
            inputs.Uniform(weight.Length, 0.5, 1.5).CopyTo(weight.AsSpan());
        }
        if (bias is not null)
        {
            inputs.Normal(bias.Length).CopyTo(bias.AsSpan());
        }
    }

    /// <summary>[x, weight, bias] with absent parameters replaced by unused placeholders, so indices stay fixed.</summary>
    internal static Tensor[] Leaves(Tensor x, Tensor? weight, Tensor? bias) =>
        [x, weight ?? Tensor.Zeros(1), bias ?? Tensor.Zeros(1)];
}
