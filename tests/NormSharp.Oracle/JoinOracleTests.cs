using NormSharp.Nn;
using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;

namespace NormSharp.Oracle;

/// <summary>Cat, Stack, Squeeze, Unsqueeze and AdaptiveAvgPool2d against libtorch: values, gradients, bad input.</summary>
[Collection(LibTorchCollection.Name)]
public class JoinOracleTests
{
    public static TheoryData<int, string, int> CatCases() => new()
    {
        // seed, shapes separated by ';', dim
        { 5000, "3;4;1", 0 },
        { 5001, "2x3;2x5", 1 },
        { 5002, "2x3;4x3;1x3", 0 },
        { 5003, "2x3x4;2x1x4;2x2x4", -2 },
        { 5004, "2x3x4;2x3x1", -1 },
        { 5005, "2x3x4x5;2x3x4x2", 3 },
        { 5006, "2x1x4;2x3x4", 1 },
        { 5007, "0;2x3;2x3", 0 },
        { 5008, "5x2", 1 },
        { 5009, "2x3x4;2x3x4;2x3x4;2x3x4", 1 },
    };

    [Theory]
    [MemberData(nameof(CatCases))]
    public void Cat_matches_libtorch(int seed, string shapes, int dim)
    {
        var check = new OracleCase("Tensor.Cat", $"seed={seed} shapes={shapes} dim={dim}");
        var inputs = new Inputs(seed);
        var leaves = shapes.Split(';').Select(s => Leaf(inputs.Randn(Shape(s)))).ToArray();
        ForwardBackward(check, inputs, leaves, [.. leaves.Select((_, i) => "tensors[" + i + "]")],
            t => Tensor.Cat(t, dim), t => cat(t, dim));
    }

    public static TheoryData<int, string, int, int> StackCases() => new()
    {
        // seed, shape, count, dim
        { 5100, "3", 2, 0 }, { 5101, "3", 4, 1 }, { 5102, "3", 3, -1 }, { 5103, "2x3", 3, 1 },
        { 5104, "2x3x4", 2, -2 }, { 5105, "2x3x4", 5, 3 }, { 5106, "scalar", 4, 0 }, { 5107, "2x1", 2, 1 },
    };

    [Theory]
    [MemberData(nameof(StackCases))]
    public void Stack_matches_libtorch(int seed, string shape, int count, int dim)
    {
        var check = new OracleCase("Tensor.Stack", $"seed={seed} shape={shape} count={count} dim={dim}");
        var inputs = new Inputs(seed);
        var leaves = Enumerable.Range(0, count).Select(_ => Leaf(inputs.Randn(Shape(shape)))).ToArray();
        ForwardBackward(check, inputs, leaves, [.. leaves.Select((_, i) => "tensors[" + i + "]")],
            t => Tensor.Stack(t, dim), t => stack(t, dim));
    }

    public static TheoryData<int, string, string, int> SqueezeCases() => new()
    {
        // seed, shape, op, dim
        { 5200, "3x4", "unsqueeze", 0 }, { 5201, "3x4", "unsqueeze", 2 }, { 5202, "3x4", "unsqueeze", -1 },
        { 5203, "3x4", "unsqueeze", -3 }, { 5204, "scalar", "unsqueeze", 0 }, { 5205, "1x3x1x4", "squeeze", 0 },
        { 5206, "1x3x1x4", "squeeze", -2 }, { 5207, "1x3x1x4", "squeeze", 1 }, { 5208, "scalar", "squeeze", -1 },
        { 5209, "1x3x1x4", "squeeze-all", 0 }, { 5210, "1x1", "squeeze-all", 0 },
    };

    [Theory]
    [MemberData(nameof(SqueezeCases))]
    public void Squeeze_and_Unsqueeze_match_libtorch(int seed, string shape, string op, int dim)
    {
        var check = new OracleCase("Tensor." + op, $"seed={seed} shape={shape} dim={dim}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(Shape(shape)));
        ForwardBackward(check, inputs, [x], ["input"],
            t => op switch { "unsqueeze" => t[0].Unsqueeze(dim), "squeeze" => t[0].Squeeze(dim), _ => t[0].Squeeze() },
            t => op switch { "unsqueeze" => t[0].unsqueeze(dim), "squeeze" => t[0].squeeze(dim), _ => t[0].squeeze() });
    }

    public static TheoryData<int, string, string> AdaptiveCases() => new()
    {
        // seed, input, output size
        { 5300, "2x3x7x7", "1x1" }, { 5301, "2x3x8x8", "4x4" }, { 5302, "1x2x7x5", "3x2" }, { 5303, "2x2x5x5", "7x7" },
        { 5304, "3x10x9", "4x3" }, { 5305, "2x4x6x11", "6x1" }, { 5306, "1x1x1x1", "2x3" }, { 5307, "2x64x4x4", "1x1" },
    };

    [Theory]
    [MemberData(nameof(AdaptiveCases))]
    public void AdaptiveAvgPool2d_matches_libtorch(int seed, string input, string outputSize)
    {
        var check = new OracleCase("AdaptiveAvgPool2d", $"seed={seed} input=[{input}] outputSize={outputSize}");
        var inputs = new Inputs(seed);
        int[] size = Shape(outputSize);
        var layer = new AdaptiveAvgPool2d((size[0], size[1]));
        var x = Leaf(inputs.Randn(Shape(input)));
        ForwardBackward(check, inputs, [x], ["input"],
            t => layer.Forward(t[0]),
            t => nn.functional.adaptive_avg_pool2d(t[0], [size[0], size[1]]));
    }

    public static TheoryData<string, string, int> BadJoinCases() => new()
    {
        // op, shapes, dim
        { "cat", "2x3;3x3", 1 }, { "cat", "2x3;2x3x1", 0 }, { "cat", "2x3;2x3", 2 }, { "cat", "scalar;scalar", 0 },
        { "stack", "2x3;3x2", 0 }, { "stack", "2x3;2x3", 3 }, { "stack", "2;2;3", -1 },
        { "unsqueeze", "2x3", 3 }, { "unsqueeze", "2x3", -4 }, { "squeeze", "2x3", 2 },
    };

    [Theory]
    [MemberData(nameof(BadJoinCases))]
    public void Bad_join_input_throws_as_libtorch(string op, string shapes, int dim)
    {
        var check = new OracleCase("Tensor bad input", $"op={op} shapes={shapes} dim={dim}");
        var ours = shapes.Split(';').Select(s => Tensor.Zeros(Shape(s))).ToArray();
        var theirs = shapes.Split(';').Select(s => zeros(Shape(s).Select(d => (long)d).ToArray())).ToArray();
        Action normSharp = op switch
        {
            "cat" => () => Tensor.Cat(ours, dim),
            "stack" => () => Tensor.Stack(ours, dim),
            "unsqueeze" => () => ours[0].Unsqueeze(dim),
            _ => () => ours[0].Squeeze(dim),
        };
        Action libTorch = op switch
        {
            "cat" => () => cat(theirs, dim),
            "stack" => () => stack(theirs, dim),
            "unsqueeze" => () => theirs[0].unsqueeze(dim),
            _ => () => theirs[0].squeeze(dim),
        };
        var thrown = check.BothThrow(op, normSharp, libTorch);
        Assert.True(thrown is ArgumentException, $"{op} threw {thrown.GetType().Name}, expected an ArgumentException.");
        // Shape errors name the shapes; dimension errors name the valid range.
        Assert.True(thrown.Message.Contains('[', StringComparison.Ordinal), thrown.Message);
    }
}
