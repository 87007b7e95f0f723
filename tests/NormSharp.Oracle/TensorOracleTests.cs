using TorchSharp;
using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>Tensor arithmetic with broadcasting, reductions, MatMul and views against libtorch.</summary>
[Collection(LibTorchCollection.Name)]
public class TensorOracleTests
{
    public static TheoryData<int, string, string, string> BroadcastCases()
    {
        var pairs = new (string A, string B)[]
        {
            ("5", "5"), ("2x3x4", "4"), ("2x3x4", "3x1"), ("2x1x4", "1x3x1"), ("scalar", "2x3"),
            ("4x1", "1x5"), ("2x3x4x5", "3x1x5"), ("1", "3x2"), ("3x2", "scalar"), ("6x1x7", "1x7"),
            // Large enough for the threaded rows: a channel bias, a row bias, a column, a long scalar row.
            ("8x32x20x20", "1x32x1x1"), ("6000x64", "64"), ("6000x64", "6000x1"), ("70001", "scalar"), ("scalar", "3x40000"),
        };
        var data = new TheoryData<int, string, string, string>();
        int seed = 100;
        foreach (var op in new[] { "add", "subtract", "multiply", "divide" })
        {
            foreach (var (a, b) in pairs)
            {
                data.Add(seed++, op, a, b);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(BroadcastCases))]
    public void Broadcast_arithmetic_matches_libtorch(int seed, string op, string shapeA, string shapeB)
    {
        var check = new OracleCase("Tensor." + op, $"seed={seed} a={shapeA} b={shapeB}");
        var inputs = new Inputs(seed);
        var a = Leaf(inputs.Randn(Shape(shapeA)));
        // Divisors kept away from zero so that the quotient's gradient is well conditioned.
        var b = Leaf(op == "divide" ? DivisorLike(inputs, Shape(shapeB)) : inputs.Randn(Shape(shapeB)));
        Func<Tensor[], Tensor> ours = op switch
        {
            "add" => t => t[0] + t[1],
            "subtract" => t => t[0] - t[1],
            "multiply" => t => t[0] * t[1],
            _ => t => t[0] / t[1],
        };
        Func<TorchTensor[], TorchTensor> theirs = op switch
        {
            "add" => t => t[0] + t[1],
            "subtract" => t => t[0] - t[1],
            "multiply" => t => t[0] * t[1],
            _ => t => t[0] / t[1],
        };
        ForwardBackward(check, inputs, [a, b], ["a", "b"], ours, theirs);
    }

    public static TheoryData<int, string, string, bool, bool> ReductionCases()
    {
        var data = new TheoryData<int, string, string, bool, bool>();
        int seed = 200;
        foreach (var shape in new[] { "7", "3x4", "2x3x5", "2x1x4x3", "1x300" })
        {
            int rank = Shape(shape).Length;
            foreach (bool mean in new[] { false, true })
            {
                data.Add(seed++, shape, "all", false, mean);
                for (int d = 0; d < rank; d++)
                {
                    // Alternate positive and negative spellings of the same dimension.
                    string dim = (d % 2 == 0 ? d : d - rank).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    data.Add(seed++, shape, dim, false, mean);
                    data.Add(seed++, shape, dim, true, mean);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(ReductionCases))]
    public void Reductions_match_libtorch(int seed, string shape, string dim, bool keepDim, bool mean)
    {
        var check = new OracleCase(mean ? "Tensor.Mean" : "Tensor.Sum", $"seed={seed} shape={shape} dim={dim} keepDim={keepDim}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(0.5, 2, Shape(shape)));
        if (dim == "all")
        {
            ForwardBackward(check, inputs, [x], ["input"],
                t => mean ? t[0].Mean() : t[0].Sum(),
                t => mean ? t[0].mean() : t[0].sum());
            return;
        }
        int d = int.Parse(dim, System.Globalization.CultureInfo.InvariantCulture);
        ForwardBackward(check, inputs, [x], ["input"],
            t => mean ? t[0].Mean(d, keepDim) : t[0].Sum(d, keepDim),
            t => mean ? t[0].mean([d], keepDim) : t[0].sum(d, keepDim));
    }

    public static TheoryData<int, int, int, int> MatMulCases() => new()
    {
        { 300, 1, 1, 1 }, { 301, 1, 7, 1 }, { 302, 3, 5, 4 }, { 303, 8, 8, 8 }, { 304, 17, 33, 9 },
        { 305, 64, 64, 64 }, { 306, 2, 300, 3 }, { 307, 31, 1, 29 }, { 308, 65, 127, 33 }, { 309, 128, 96, 10 },
    };

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMul_matches_libtorch(int seed, int m, int k, int n)
    {
        var check = new OracleCase("Tensor.MatMul", $"seed={seed} [{m}, {k}] @ [{k}, {n}]");
        var inputs = new Inputs(seed);
        var a = Leaf(inputs.Randn(m, k));
        var b = Leaf(inputs.Randn(k, n));
        ForwardBackward(check, inputs, [a, b], ["a", "b"], t => t[0].MatMul(t[1]), t => t[0].matmul(t[1]));
    }

    public static TheoryData<int, string> ViewCases() => new()
    {
        { 400, "reshape" }, { 401, "flatten" }, { 402, "permute" }, { 403, "transpose" },
        { 404, "slice" }, { 405, "row" }, { 406, "reshape-infer" }, { 407, "permute-4d" },
    };

    [Theory]
    [MemberData(nameof(ViewCases))]
    public void Views_match_libtorch(int seed, string view)
    {
        var check = new OracleCase("Tensor." + view, $"seed={seed}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(3, 4, 5));
        if (view == "permute-4d")
        {
            x = Leaf(inputs.Randn(2, 3, 4, 5));
        }
        // Multiplying by a fixed random tensor afterwards gives each element its own gradient.
        Func<Tensor, Tensor> ours = view switch
        {
            "reshape" => t => t.Reshape(4, 15),
            "flatten" => t => t.Flatten(1),
            "permute" => t => t.Permute(2, 0, 1),
            "transpose" => t => t.Transpose(0, -1),
            "slice" => t => t.Slice(1, 2),
            "row" => t => t[2],
            "reshape-infer" => t => t.Reshape(-1, 10),
            _ => t => t.Permute(0, 2, 3, 1),
        };
        Func<TorchTensor, TorchTensor> theirs = view switch
        {
            "reshape" => t => t.reshape(4, 15),
            "flatten" => t => t.flatten(1),
            "permute" => t => t.permute(2, 0, 1),
            "transpose" => t => t.transpose(0, -1),
            "slice" => t => t.narrow(0, 1, 2),
            "row" => t => t[2],
            "reshape-infer" => t => t.reshape(-1, 10),
            _ => t => t.permute(0, 2, 3, 1),
        };
        var shape = ours(x.Detach()).Shape;
        var weights = inputs.Randn(shape);
        ForwardBackward(check, inputs, [x, weights], ["input", "weights"],
            t => ours(t[0]) * t[1],
            t => theirs(t[0]) * t[1]);
    }

    private static Tensor DivisorLike(Inputs inputs, int[] shape)
    {
        var t = inputs.Rand(0.5, 2, shape);
        var span = t.AsSpan();
        for (int i = 0; i < span.Length; i++)
        {
            span[i] = inputs.Coin() ? span[i] : -span[i];
        }
        return t;
    }
}
