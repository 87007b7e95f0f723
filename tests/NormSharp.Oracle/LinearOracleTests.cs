using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;
using NormSharp.Functional;
using NormSharp.Nn;

namespace NormSharp.Oracle;

/// <summary>Linear (module and functional) against libtorch: output and the gradients of input, weight and bias.</summary>
[Collection(LibTorchCollection.Name)]
public class LinearOracleTests
{
    public static TheoryData<int, string, int, int, bool> Cases()
    {
        var data = new TheoryData<int, string, int, int, bool>();
        int seed = 600;
        foreach (var (leading, inFeatures, outFeatures) in new[]
                 {
                     ("1", 1, 1), ("2", 3, 4), ("16", 64, 10), ("7", 33, 17), ("64", 784, 100),
                     ("2x5", 8, 3), ("3x2x4", 16, 16), ("32", 128, 1),
                 })
        {
            foreach (bool bias in new[] { true, false })
            {
                data.Add(seed++, leading, inFeatures, outFeatures, bias);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Linear_module_matches_libtorch(int seed, string leading, int inFeatures, int outFeatures, bool bias)
    {
        var check = new OracleCase("Linear", $"seed={seed} input=[{leading.Replace('x', ',')},{inFeatures}] outFeatures={outFeatures} bias={bias}");
        var inputs = new Inputs(seed);
        var layer = new Linear(inFeatures, outFeatures, bias, new Generator(seed));
        var x = Leaf(inputs.Randn([.. Shape(leading), inFeatures]));
        Tensor[] leaves = bias ? [x, layer.Weight, layer.Bias!] : [x, layer.Weight];
        ForwardBackward(check, inputs, leaves, ["input", "weight", "bias"],
            t => layer.Forward(t[0]),
            t => nn.functional.linear(t[0], t[1], bias ? t[2] : null));
    }

    [Theory]
    [InlineData(650, false)]
    [InlineData(651, true)]
    public void Linear_functional_matches_libtorch(int seed, bool bias)
    {
        var check = new OracleCase("F.Linear", $"seed={seed} input=[9,21] outFeatures=5 bias={bias}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(9, 21));
        var weight = Leaf(inputs.Randn(5, 21));
        var b = Leaf(inputs.Randn(5));
        Tensor[] leaves = bias ? [x, weight, b] : [x, weight];
        ForwardBackward(check, inputs, leaves, ["input", "weight", "bias"],
            t => F.Linear(t[0], t[1], bias ? t[2] : null),
            t => nn.functional.linear(t[0], t[1], bias ? t[2] : null));
    }
}
