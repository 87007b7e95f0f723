using static NormSharp.Oracle.Differential;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// Sum and Mean over several dimensions, and losses of a full sum (whose gradient travels as one value), against
/// libtorch: outputs and gradients. Broadcasting ops on shapes large enough for their threaded paths are in
/// <see cref="TensorOracleTests"/>.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class ReductionOracleTests
{
    public static TheoryData<int, string, string, bool, bool> MultiDimCases()
    {
        var data = new TheoryData<int, string, string, bool, bool>();
        int seed = 1200;
        foreach (var (shape, dims) in new[]
        {
            ("4x6x9x9", "0,2,3"), ("4x6x9x9", "1"), ("4x6x9x9", "-1,-2"), ("4x6x9x9", "0,3"), ("3x1x5x2", "1,2"),
            ("7x300", "0"), ("300x7", "1"), ("2x3x4", ""), ("64x70000", "1"), ("5x4x2100", "0,2"),
        })
        {
            foreach (bool keepDim in new[] { false, true })
            {
                foreach (bool mean in new[] { false, true })
                {
                    data.Add(seed++, shape, dims, keepDim, mean);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(MultiDimCases))]
    public void Multi_dim_reductions_match_libtorch(int seed, string shape, string dims, bool keepDim, bool mean)
    {
        var check = new OracleCase(mean ? "Tensor.Mean(dims)" : "Tensor.Sum(dims)", $"seed={seed} shape={shape} dims=[{dims}] keepDim={keepDim}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(0.5, 2, Shape(shape)));
        int[] ours = dims.Length == 0 ? [] : dims.Split(',').Select(d => int.Parse(d, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        long[] theirs = Array.ConvertAll(ours.Length == 0 ? Enumerable.Range(0, x.Rank).ToArray() : ours, d => (long)d);
        ForwardBackward(check, inputs, [x], ["input"],
            t => mean ? t[0].Mean(ours, keepDim) : t[0].Sum(ours, keepDim),
            t => mean ? t[0].mean(theirs, keepDim) : t[0].sum(theirs, keepDim));
    }

    [Theory]
    [InlineData(1400, "multiply")]
    [InlineData(1401, "relu")]
    [InlineData(1402, "add-bias")]
    public void Losses_of_a_full_sum_or_mean_match_libtorch(int seed, string kind)
    {
        // The gradient of a full sum reaches the op below it as one value (never written out); these check that path.
        var check = new OracleCase("full-sum loss " + kind, $"seed={seed}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(4, 8, 30, 30));
        var other = Leaf(inputs.Randn(kind == "add-bias" ? new[] { 1, 8, 1, 1 } : new[] { 4, 8, 30, 30 }));
        Func<Tensor[], Tensor> ours = kind switch
        {
            "multiply" => t => (t[0] * t[1]).Sum() * 0.5f,
            "relu" => t => (t[0].Relu() * 2f).Sum() + t[1].Mean(),
            _ => t => (t[0] + t[1]).Mean(),
        };
        Func<TorchTensor[], TorchTensor> theirs = kind switch
        {
            "multiply" => t => (t[0] * t[1]).sum() * 0.5,
            "relu" => t => (t[0].relu() * 2).sum() + t[1].mean(),
            _ => t => (t[0] + t[1]).mean(),
        };
        ForwardBackward(check, inputs, [x, other], ["x", "other"], ours, theirs);
    }
}
