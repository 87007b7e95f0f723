using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// Max/Min (whole tensor and per dimension, values and indices), Clamp, comparisons and Where against libtorch.
/// Inputs are rounded to halves so that ties, bounds hit exactly and equal elements occur: the cases where the
/// tie and gradient rules show.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class CompareOracleTests
{
    public static TheoryData<int, string, string, bool, bool> ExtremumCases()
    {
        var data = new TheoryData<int, string, string, bool, bool>();
        int seed = 5400;
        foreach (var shape in new[] { "7", "3x4", "2x3x5", "4x1x6" })
        {
            foreach (bool largest in new[] { true, false })
            {
                data.Add(seed++, shape, "all", false, largest);
                int rank = Shape(shape).Length;
                for (int d = 0; d < rank; d++)
                {
                    string dim = (d % 2 == 0 ? d : d - rank).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    data.Add(seed++, shape, dim, seed % 2 == 0, largest);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ExtremumCases))]
    public void Max_and_Min_match_libtorch(int seed, string shape, string dim, bool keepDim, bool largest)
    {
        var check = new OracleCase(largest ? "Tensor.Max" : "Tensor.Min", $"seed={seed} shape={shape} dim={dim} keepDim={keepDim}");
        var inputs = new Inputs(seed);
        var x = Leaf(Halves(inputs, Shape(shape)));
        if (dim == "all")
        {
            ForwardBackward(check, inputs, [x], ["input"],
                t => largest ? t[0].Max() : t[0].Min(),
                t => largest ? t[0].max() : t[0].min());
            return;
        }
        int d = int.Parse(dim, System.Globalization.CultureInfo.InvariantCulture);
        ForwardBackward(check, inputs, [x], ["input"],
            t => largest ? t[0].Max(d, keepDim).Values : t[0].Min(d, keepDim).Values,
            t => largest ? t[0].max(d, keepDim).values : t[0].min(d, keepDim).values);
        using var scope = NewDisposeScope();
        var torchX = LibTorch.From(x, dtype: OracleCase.OracleType);
        check.Close("indices",
            largest ? x.Max(d, keepDim).Indices : x.Min(d, keepDim).Indices,
            largest ? torchX.max(d, keepDim).indexes : torchX.min(d, keepDim).indexes);
    }

    [Fact]
    public void Max_and_Min_propagate_the_first_NaN_as_libtorch()
    {
        var check = new OracleCase("Tensor.Max", "NaN rows");
        var x = Tensor.FromArray([1, float.NaN, 3, float.NaN, 2, 5, 0, -1], 2, 4);
        using var scope = NewDisposeScope();
        var torchX = LibTorch.From(x, dtype: OracleCase.OracleType);
        check.Close("max values", x.Max(1).Values, torchX.max(1).values);
        check.Close("max indices", x.Max(1).Indices, torchX.max(1).indexes);
        check.Close("min indices", x.Min(1).Indices, torchX.min(1).indexes);
        check.Close("max of all", x.Max(), torchX.max());
    }

    public static TheoryData<int, string, double?, double?> ClampCases() => new()
    {
        { 5500, "3x4", -1.0, 1.0 }, { 5501, "2x3x5", 0.0, null }, { 5502, "17", null, 0.5 },
        { 5503, "4x4", 1.0, -1.0 }, { 5504, "scalar", -0.5, 0.5 }, { 5505, "6x7", -2.5, 2.5 },
    };

    [Theory]
    [MemberData(nameof(ClampCases))]
    public void Clamp_matches_libtorch(int seed, string shape, double? min, double? max)
    {
        var check = new OracleCase("Tensor.Clamp", $"seed={seed} shape={shape} min={min} max={max}");
        var inputs = new Inputs(seed);
        var x = Leaf(Halves(inputs, Shape(shape)));
        ForwardBackward(check, inputs, [x], ["input"],
            t => t[0].Clamp((float?)min, (float?)max),
            t => t[0].clamp(min, max));
    }

    public static TheoryData<int, string, string, string> CompareCases()
    {
        var data = new TheoryData<int, string, string, string>();
        int seed = 5600;
        foreach (var op in new[] { "eq", "ne", "gt", "ge", "lt", "le" })
        {
            foreach (var (a, b) in new[] { ("3x4", "3x4"), ("2x3x4", "4"), ("3x1", "1x5"), ("5", "scalar") })
            {
                data.Add(seed++, op, a, b);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CompareCases))]
    public void Comparisons_match_libtorch(int seed, string op, string shapeA, string shapeB)
    {
        var check = new OracleCase("Tensor." + op, $"seed={seed} a={shapeA} b={shapeB}");
        var inputs = new Inputs(seed);
        // Coarse values (whole numbers in [-2, 2]) so that equal pairs are common.
        var a = Whole(inputs, Shape(shapeA));
        var b = Whole(inputs, Shape(shapeB));
        Func<Tensor[], Tensor> ours = op switch
        {
            "eq" => t => t[0].Eq(t[1]), "ne" => t => t[0].Ne(t[1]), "gt" => t => t[0].Gt(t[1]),
            "ge" => t => t[0].Ge(t[1]), "lt" => t => t[0].Lt(t[1]), _ => t => t[0].Le(t[1]),
        };
        Func<TorchTensor[], TorchTensor> theirs = op switch
        {
            "eq" => t => t[0].eq(t[1]), "ne" => t => t[0].ne(t[1]), "gt" => t => t[0].gt(t[1]),
            "ge" => t => t[0].ge(t[1]), "lt" => t => t[0].lt(t[1]), _ => t => t[0].le(t[1]),
        };
        ForwardBackward(check, inputs, [a, b], ["a", "b"], ours, theirs);
        Assert.False(ours([a, b]).RequiresGrad);
    }

    public static TheoryData<int, string, string, string> WhereCases() => new()
    {
        // seed, condition, x, y
        { 5700, "3x4", "3x4", "3x4" }, { 5701, "3x4", "4", "3x1" }, { 5702, "2x1x4", "3x1", "scalar" },
        { 5703, "5", "2x5", "2x1" }, { 5704, "scalar", "3x2", "3x2" },
    };

    [Theory]
    [MemberData(nameof(WhereCases))]
    public void Where_matches_libtorch(int seed, string condition, string shapeX, string shapeY)
    {
        var check = new OracleCase("Tensor.Where", $"seed={seed} condition={condition} x={shapeX} y={shapeY}");
        var inputs = new Inputs(seed);
        var mask = inputs.Randn(Shape(condition)).Gt(0);
        var x = Leaf(inputs.Randn(Shape(shapeX)));
        var y = Leaf(inputs.Randn(Shape(shapeY)));
        ForwardBackward(check, inputs, [mask, x, y], ["condition", "x", "y"],
            t => Tensor.Where(t[0], t[1], t[2]),
            t => where(t[0].ne(0), t[1], t[2]));
    }

    [Fact]
    public void Bad_comparison_and_where_shapes_throw_as_libtorch()
    {
        var check = new OracleCase("Tensor bad input", "comparisons and where");
        var thrown = check.BothThrow("gt of [2, 3] and [4]",
            () => Tensor.Zeros(2, 3).Gt(Tensor.Zeros(4)),
            () => zeros(2, 3).gt(zeros(4)));
        Assert.Contains("[2, 3]", thrown.Message, StringComparison.Ordinal);
        thrown = check.BothThrow("where of [2, 3], [3, 3], [3]",
            () => Tensor.Where(Tensor.Zeros(2, 3), Tensor.Zeros(3, 3), Tensor.Zeros(3)),
            () => where(zeros(2, 3).ne(0), zeros(3, 3), zeros(3)));
        Assert.Contains("[3, 3]", thrown.Message, StringComparison.Ordinal);
        check.BothThrow("max of an empty tensor", () => Tensor.Zeros(0).Max(), () => zeros(0).max());
        check.BothThrow("clamp without bounds", () => Tensor.Zeros(2).Clamp(), () => zeros(2).clamp(null, null));
    }

    // Normal samples rounded to halves: ties and exact bound hits happen.
    private static Tensor Halves(Inputs inputs, int[] shape) =>
        Tensor.FromArray(inputs.Normal(shape.Aggregate(1, (a, b) => a * b), 0, 1.5).Select(v => MathF.Round(v * 2) / 2).ToArray(), shape);

    private static Tensor Whole(Inputs inputs, int[] shape) =>
        Tensor.FromArray(inputs.Uniform(shape.Aggregate(1, (a, b) => a * b), -2, 3).Select(MathF.Floor).ToArray(), shape);
}
