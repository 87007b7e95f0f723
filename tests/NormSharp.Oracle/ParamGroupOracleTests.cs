using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// Parameter groups (no weight decay on BN γ/β and biases; a head with its own learning rate), gradient-norm
/// clipping and the MultiStepLR, OneCycleLR and LinearLR schedules against TorchSharp's optimizers and schedulers
/// over libtorch: Linear(6, 8) → BatchNorm1d(8) → ReLU → Linear(8, 4) trained for five steps, loss, clipped norm,
/// every group's learning rate and every parameter compared after each step.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class ParamGroupOracleTests
{
    private const int Steps = 5;

    public static TheoryData<int, string, string, string, string> Cases() => new()
    {
        // seed, optimizer, grouping, clipping, schedule
        { 6200, "SGD", "noDecayNormBias", "none", "none" },
        { 6201, "SGD", "noDecayNormBias", "norm2", "multistep" },
        // One group with OneCycleLR: TorchSharp's OneCycleLR leaves every group but the first at its initial rate,
        // where PyTorch's (and ours) runs the cycle in every group.
        { 6202, "SGD", "single", "normInf", "onecycle" },
        { 6203, "Adam", "noDecayNormBias", "norm2", "none" },
        { 6204, "Adam", "headLr", "none", "multistep" },
        { 6205, "AdamW", "noDecayNormBias", "normInf", "linear" },
        { 6206, "AdamW", "single", "norm2", "onecycle" },
        { 6207, "SGD", "headLr", "norm2", "linear" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Groups_clipping_and_schedules_match_pytorch_over_five_steps(int seed, string kind, string grouping, string clipping, string schedule)
    {
        var check = new OracleCase("Param groups", $"seed={seed} {kind} {grouping} clip={clipping} schedule={schedule}");
        using var scope = NewDisposeScope();
        var inputs = new Inputs(seed);
        // No bias before BN: BN removes it, its gradient is rounding noise, and Adam would amplify the noise's sign.
        var first = new Linear(6, 8, bias: false, generator: new Generator(seed));
        var norm = new BatchNorm1d(8);
        var head = new Linear(8, 4, generator: new Generator(seed + 1));
        norm.Weight!.AsSpan().Fill(1.5f);   // γ away from 1, so that decaying it would show
        var model = new Sequential(first, norm, new ReLU(), head);
        const double lr = 0.05, weightDecay = 0.1;
        double clipNorm = clipping == "normInf" ? 0.3 : 0.5, normType = clipping == "normInf" ? double.PositiveInfinity : 2;

        Optimizer ours;
        if (grouping == "noDecayNormBias")
        {
            ours = Ours(kind, model.Parameters(), lr, weightDecay).NoWeightDecayOnNormAndBias(model);
        }
        else if (grouping == "single")
        {
            ours = Ours(kind, model.Parameters(), lr, weightDecay);
        }
        else
        {
            ours = Ours(kind, first.Parameters().Concat(norm.Parameters()), lr, weightDecay);
            ours.AddParamGroup(new ParamGroup(head.Parameters(), lr: lr / 10, weightDecay: 0));
        }
        var ourSchedule = Schedule(schedule, ours);

        // The torch side in float64 (asserted) and float32 (reported), with the same groups spelled out.
        var sides = new[] { OracleCase.OracleType, ScalarType.Float32 }.Select(dtype =>
        {
            var p = model.Parameters().Select(t => nn.Parameter(LibTorch.From(t, dtype: dtype))).ToArray();
            // p: first.weight, norm.weight, norm.bias, head.weight, head.bias
            var groups = grouping switch
            {
                "noDecayNormBias" => new[] { (new[] { p[0], p[3] }, lr, weightDecay), (new[] { p[1], p[2], p[4] }, lr, 0.0) },
                "headLr" => [(new[] { p[0], p[1], p[2] }, lr, weightDecay), (new[] { p[3], p[4] }, lr / 10, 0.0)],
                _ => [(p, lr, weightDecay)],
            };
            var optimizer = Theirs(kind, groups);
            return (Parameters: p, Optimizer: optimizer, Schedule: TheirSchedule(schedule, optimizer), Type: dtype);
        }).ToArray();

        for (int step = 1; step <= Steps; step++)
        {
            var x = inputs.Randn(8, 6);
            var target = inputs.Randn(8, 4);
            ours.ZeroGrad();
            var loss = F.MseLoss(model.Forward(x), target);
            loss.Backward();
            double ourNorm = clipping == "none" ? 0 : GradientClipping.ClipGradNorm(model.Parameters(), clipNorm, normType);
            ours.Step();
            ourSchedule?.Step();

            var losses = new TorchTensor[sides.Length];
            var norms = new double[sides.Length];
            for (int s = 0; s < sides.Length; s++)
            {
                var (p, optimizer, torchSchedule, type) = sides[s];
                optimizer.zero_grad();
                var hidden = nn.functional.linear(LibTorch.From(x, dtype: type), p[0]);
                hidden = nn.functional.batch_norm(hidden, null, null, p[1], p[2], training: true).relu();
                losses[s] = nn.functional.mse_loss(nn.functional.linear(hidden, p[3], p[4]), LibTorch.From(target, dtype: type));
                losses[s].backward();
                norms[s] = clipping == "none" ? 0 : nn.utils.clip_grad_norm_(p, clipNorm, normType);
                optimizer.step();
                torchSchedule?.step();
            }
            check.Close($"step {step} loss", loss, losses[0], losses[1]);
            check.Close($"step {step} clipped norm", ourNorm, norms[0]);
            var torchGroups = sides[0].Optimizer.ParamGroups.ToArray();
            for (int g = 0; g < torchGroups.Length; g++)
            {
                check.Close($"step {step} group {g} learning rate", ours.ParamGroups[g].LearningRate, torchGroups[g].LearningRate);
            }
            var names = model.NamedParameters().Select(n => n.Key).ToArray();
            var mine = model.Parameters().ToArray();
            for (int i = 0; i < mine.Length; i++)
            {
                check.Close($"step {step} {names[i]}", mine[i], sides[0].Parameters[i], sides[1].Parameters[i]);
            }
        }
    }

    private static Optimizer Ours(string kind, IEnumerable<Tensor> parameters, double lr, double weightDecay) => kind switch
    {
        "SGD" => new SGD(parameters, lr, momentum: 0.9, weightDecay: weightDecay),
        "Adam" => new Adam(parameters, lr, weightDecay: weightDecay),
        _ => new AdamW(parameters, lr, weightDecay: weightDecay),
    };

    private static optim.Optimizer Theirs(string kind, (TorchSharp.Modules.Parameter[] Parameters, double Lr, double WeightDecay)[] groups) => kind switch
    {
        "SGD" => optim.SGD(groups.Select(g => new TorchSharp.Modules.SGD.ParamGroup(g.Parameters, g.Lr, momentum: 0.9, weight_decay: g.WeightDecay)), 0.05),
        "Adam" => optim.Adam(groups.Select(g => new TorchSharp.Modules.Adam.ParamGroup(g.Parameters, g.Lr, 0.9, 0.999, 1e-8, g.WeightDecay))),
        _ => optim.AdamW(groups.Select(g => new TorchSharp.Modules.AdamW.ParamGroup(g.Parameters, g.Lr, 0.9, 0.999, 1e-8, g.WeightDecay))),
    };

    private static LRScheduler? Schedule(string schedule, Optimizer optimizer) => schedule switch
    {
        "multistep" => new MultiStepLR(optimizer, [4, 2], gamma: 0.5),
        "onecycle" => new OneCycleLR(optimizer, maxLr: 0.2, totalSteps: Steps + 1),
        "linear" => new LinearLR(optimizer, startFactor: 0.25, totalIters: 3),
        _ => null,
    };

    private static optim.lr_scheduler.LRScheduler? TheirSchedule(string schedule, optim.Optimizer optimizer) => schedule switch
    {
        "multistep" => optim.lr_scheduler.MultiStepLR(optimizer, [2, 4], gamma: 0.5),
        "onecycle" => optim.lr_scheduler.OneCycleLR(optimizer, max_lr: 0.2, total_steps: Steps + 1, cycle_momentum: false),
        "linear" => optim.lr_scheduler.LinearLR(optimizer, start_factor: 0.25, end_factor: 1.0, total_iters: 3),
        _ => null,
    };

    [Fact]
    public void NoWeightDecayOnNormAndBias_leaves_only_weights_decayed()
    {
        var model = new Sequential(new Linear(3, 4, generator: new Generator(1)), new BatchNorm1d(4), new ReLU(), new Linear(4, 2, generator: new Generator(2)));
        // Three weights decayed, the rest not; the state keys number the parameters group after group, as PyTorch.
        var optimizer = new SGD(model.Parameters(), lr: 0.1, weightDecay: 5e-4).NoWeightDecayOnNormAndBias(model);
        Assert.Equal(2, optimizer.ParamGroups.Count);
        Assert.Equal(5e-4, optimizer.ParamGroups[0].WeightDecay);
        Assert.Equal(["0.weight", "3.weight"], Names(model, optimizer.ParamGroups[0].Parameters));
        Assert.Equal(0, optimizer.ParamGroups[1].WeightDecay);
        Assert.Equal(["0.bias", "1.weight", "1.bias", "3.bias"], Names(model, optimizer.ParamGroups[1].Parameters));
    }

    private static string[] Names(Module model, IEnumerable<Tensor> parameters)
    {
        var named = model.NamedParameters().ToList();
        return [.. parameters.Select(p => named.Single(n => ReferenceEquals(n.Value, p)).Key)];
    }
}
