using NormSharp.Nn;
using static NormSharp.Oracle.Differential;
using static TorchSharp.torch;

namespace NormSharp.Oracle;

/// <summary>
/// NLLLoss, BCEWithLogitsLoss, L1Loss, class-weighted CrossEntropyLoss, and the LeakyReLU, SiLU, Softmax,
/// LogSoftmax and Identity modules against libtorch: values and gradients under a random upstream gradient.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class LossOracleTests
{
    public static TheoryData<int, int, int, double, bool> ClassLossCases() => new()
    {
        // seed, batch, classes, label smoothing, weighted
        { 5800, 4, 3, 0.0, true }, { 5801, 8, 10, 0.0, true }, { 5802, 5, 7, 0.1, true }, { 5803, 1, 2, 0.3, true },
        { 5804, 16, 5, 0.0, false }, { 5805, 6, 4, 0.25, false },
    };

    [Theory]
    [MemberData(nameof(ClassLossCases))]
    public void Weighted_CrossEntropyLoss_matches_libtorch(int seed, int batch, int classes, double labelSmoothing, bool weighted)
    {
        var check = new OracleCase("CrossEntropyLoss", $"seed={seed} [{batch}, {classes}] labelSmoothing={labelSmoothing} weighted={weighted}");
        var inputs = new Inputs(seed);
        var logits = Leaf(inputs.Randn(0.0, 2.0, batch, classes));
        int[] targets = [.. Enumerable.Range(0, batch).Select(_ => inputs.Next(classes))];
        var weight = weighted ? inputs.Rand(0.2, 3, classes) : null;
        var loss = new CrossEntropyLoss(labelSmoothing, weight);
        ForwardBackward(check, inputs, [logits], ["input"],
            t => loss.Forward(t[0], targets),
            t => nn.functional.cross_entropy(t[0], LibTorch.Indices(targets),
                weight is null ? null : LibTorch.From(weight, dtype: t[0].dtype), label_smoothing: labelSmoothing));
    }

    [Theory]
    [MemberData(nameof(ClassLossCases))]
    public void NLLLoss_matches_libtorch(int seed, int batch, int classes, double labelSmoothing, bool weighted)
    {
        _ = labelSmoothing;   // NLL has no label smoothing: the cases are shared with cross-entropy
        var check = new OracleCase("NLLLoss", $"seed={seed} [{batch}, {classes}] weighted={weighted}");
        var inputs = new Inputs(seed);
        var logProbabilities = Leaf(Functional.F.LogSoftmax(inputs.Randn(0.0, 2.0, batch, classes), 1).Detach());
        int[] targets = [.. Enumerable.Range(0, batch).Select(_ => inputs.Next(classes))];
        var weight = weighted ? inputs.Rand(0.2, 3, classes) : null;
        var loss = new NLLLoss(weight);
        ForwardBackward(check, inputs, [logProbabilities], ["input"],
            t => loss.Forward(t[0], targets),
            t => nn.functional.nll_loss(t[0], LibTorch.Indices(targets), weight is null ? null : LibTorch.From(weight, dtype: t[0].dtype)));
    }

    public static TheoryData<int, string, string, string> BinaryCases() => new()
    {
        // seed, input shape, weight shape ("" = none), pos_weight shape
        { 5900, "8", "", "" }, { 5901, "4x3", "3", "" }, { 5902, "4x3", "", "3" }, { 5903, "2x5x3", "5x1", "3" },
        { 5904, "6x2", "6x2", "2" }, { 5905, "1", "", "1" },
    };

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void BCEWithLogitsLoss_matches_libtorch(int seed, string shape, string weightShape, string posWeightShape)
    {
        var check = new OracleCase("BCEWithLogitsLoss", $"seed={seed} input={shape} weight={weightShape} posWeight={posWeightShape}");
        var inputs = new Inputs(seed);
        // Logits up to ±12 (saturated sigmoids) and soft targets; the target gets a gradient too.
        var x = Leaf(inputs.Randn(0.0, 5.0, Shape(shape)));
        var y = Leaf(inputs.Rand(0, 1, Shape(shape)));
        var weight = weightShape == "" ? null : inputs.Rand(0.2, 2, Shape(weightShape));
        var posWeight = posWeightShape == "" ? null : inputs.Rand(0.5, 4, Shape(posWeightShape));
        var loss = new BCEWithLogitsLoss(weight, posWeight);
        ForwardBackward(check, inputs, [x, y], ["input", "target"],
            t => loss.Forward(t[0], t[1]),
            t => nn.functional.binary_cross_entropy_with_logits(t[0], t[1],
                weight is null ? null : LibTorch.From(weight, dtype: t[0].dtype),
                pos_weights: posWeight is null ? null : LibTorch.From(posWeight, dtype: t[0].dtype)));
    }

    [Theory]
    [InlineData(6000, "7")]
    [InlineData(6001, "3x4x5")]
    public void L1Loss_matches_libtorch(int seed, string shape)
    {
        var check = new OracleCase("L1Loss", $"seed={seed} shape={shape}");
        var inputs = new Inputs(seed);
        var x = Leaf(inputs.Randn(Shape(shape)));
        var y = Leaf(inputs.Randn(Shape(shape)));
        ForwardBackward(check, inputs, [x, y], ["input", "target"],
            t => new L1Loss().Forward(t[0], t[1]),
            t => nn.functional.l1_loss(t[0], t[1]));
    }

    public static TheoryData<int, string, string> ActivationCases() => new()
    {
        { 6100, "leaky", "3x7" }, { 6101, "leaky0.2", "2x3x4" }, { 6102, "silu", "3x7" }, { 6103, "silu", "50" },
        { 6104, "softmax1", "4x5" }, { 6105, "softmax-1", "2x3x4" }, { 6106, "logsoftmax1", "4x5" },
        { 6107, "logsoftmax0", "3x6" }, { 6108, "identity", "2x3" },
    };

    [Theory]
    [MemberData(nameof(ActivationCases))]
    public void Activation_modules_match_libtorch(int seed, string kind, string shape)
    {
        var check = new OracleCase("Activation modules", $"seed={seed} {kind} shape={shape}");
        var inputs = new Inputs(seed);
        // Halves put exact zeros into the input: LeakyReLU's gradient at 0 is the slope, as PyTorch's.
        var x = Leaf(Tensor.FromArray([.. inputs.Normal(Shape(shape).Aggregate(1, (a, b) => a * b), 0, 3).Select(v => MathF.Round(v * 2) / 2 + (v > 1 ? 0.25f : 0f))], Shape(shape)));
        Module module = kind switch
        {
            "leaky" => new LeakyReLU(), "leaky0.2" => new LeakyReLU(0.2), "silu" => new SiLU(),
            "softmax1" => new Softmax(1), "softmax-1" => new Softmax(-1), "logsoftmax1" => new LogSoftmax(1),
            "logsoftmax0" => new LogSoftmax(0), _ => new Identity(),
        };
        Func<TorchSharp.torch.Tensor[], TorchSharp.torch.Tensor> theirs = kind switch
        {
            "leaky" => t => nn.functional.leaky_relu(t[0]), "leaky0.2" => t => nn.functional.leaky_relu(t[0], 0.2),
            "silu" => t => nn.functional.silu(t[0]), "softmax1" => t => t[0].softmax(1), "softmax-1" => t => t[0].softmax(-1),
            "logsoftmax1" => t => t[0].log_softmax(1), "logsoftmax0" => t => t[0].log_softmax(0), _ => t => t[0] * 1,
        };
        ForwardBackward(check, inputs, [x], ["input"], t => module.Forward(t[0]), theirs);
    }
}
