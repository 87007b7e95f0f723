using System.Globalization;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;
using static TorchSharp.torch;
using TorchTensor = TorchSharp.torch.Tensor;

namespace NormSharp.Oracle;

/// <summary>
/// SGD (momentum, dampening, nesterov, weight decay), Adam and AdamW against TorchSharp's optimizers over
/// libtorch: a Linear(6, 4) regression trained for five steps on fresh random batches, the loss and every
/// parameter compared after each step. The gradients come from each side's own autograd, so a difference in
/// the optimizer's state (momentum buffer, moments, step count) shows up in the following steps.
/// </summary>
[Collection(LibTorchCollection.Name)]
public class OptimOracleTests
{
    private const int Steps = 5;

    public static TheoryData<int, double, double, double, double, bool> SgdCases()
    {
        var data = new TheoryData<int, double, double, double, double, bool>();
        int seed = 4000;
        foreach (double lr in new[] { 0.1, 0.01 })
        {
            foreach (var (momentum, dampening, nesterov) in new[] { (0.0, 0.0, false), (0.9, 0.0, false), (0.9, 0.0, true), (0.9, 0.3, false) })
            {
                foreach (double weightDecay in new[] { 0.0, 0.05 })
                {
                    data.Add(seed++, lr, momentum, dampening, weightDecay, nesterov);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SgdCases))]
    public void SGD_matches_pytorch_over_five_steps(int seed, double lr, double momentum, double dampening, double weightDecay, bool nesterov)
    {
        var check = new OracleCase("SGD", string.Create(CultureInfo.InvariantCulture,
            $"seed={seed} lr={lr:G} momentum={momentum:G} dampening={dampening:G} weightDecay={weightDecay:G} nesterov={nesterov}"));
        Train(check, seed,
            parameters => new SGD(parameters, lr, momentum, dampening, weightDecay, nesterov),
            parameters => optim.SGD(parameters, lr, momentum, dampening, weightDecay, nesterov));
    }

    public static TheoryData<int, string, double, double, double, double, double> AdamCases()
    {
        var data = new TheoryData<int, string, double, double, double, double, double>();
        int seed = 4100;
        foreach (string kind in new[] { "Adam", "AdamW" })
        {
            foreach (double lr in new[] { 1e-3, 1e-2 })
            {
                foreach (var (beta1, beta2) in new[] { (0.9, 0.999), (0.5, 0.9) })
                {
                    foreach (double eps in new[] { 1e-8, 1e-3 })
                    {
                        foreach (double weightDecay in new[] { 0.0, 0.1 })
                        {
                            data.Add(seed++, kind, lr, beta1, beta2, eps, weightDecay);
                        }
                    }
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(AdamCases))]
    public void Adam_and_AdamW_match_pytorch_over_five_steps(int seed, string kind, double lr, double beta1, double beta2, double eps, double weightDecay)
    {
        var check = new OracleCase(kind, string.Create(CultureInfo.InvariantCulture,
            $"seed={seed} lr={lr:G} betas=({beta1:G}, {beta2:G}) eps={eps:G} weightDecay={weightDecay:G}"));
        Train(check, seed,
            parameters => kind == "AdamW"
                ? new AdamW(parameters, lr, beta1, beta2, eps, weightDecay)
                : new Adam(parameters, lr, beta1, beta2, eps, weightDecay),
            parameters => kind == "AdamW"
                ? optim.AdamW(parameters, lr, beta1, beta2, eps, weightDecay)
                : optim.Adam(parameters, lr, beta1, beta2, eps, weightDecay));
    }

    /// <summary>Five steps of Linear(6, 4) + MSE on both sides; loss and parameters compared after each.</summary>
    private static void Train(
        OracleCase check, int seed,
        Func<IEnumerable<Tensor>, Optimizer> normSharpOptimizer,
        Func<IEnumerable<TorchSharp.Modules.Parameter>, optim.Optimizer> torchOptimizer)
    {
        using var scope = NewDisposeScope();
        var inputs = new Inputs(seed);
        var layer = new Linear(6, 4, bias: true, new Generator(seed));
        var optimizer = normSharpOptimizer(layer.Parameters());
        // The asserted reference in float64 and a float32 twin for the report.
        var sides = new[] { OracleCase.OracleType, ScalarType.Float32 }.Select(dtype =>
        {
            var weight = nn.Parameter(LibTorch.From(layer.Weight, dtype: dtype));
            var bias = nn.Parameter(LibTorch.From(layer.Bias!, dtype: dtype));
            return (Weight: weight, Bias: bias, Optimizer: torchOptimizer([weight, bias]), Type: dtype);
        }).ToArray();

        for (int step = 1; step <= Steps; step++)
        {
            var x = inputs.Randn(8, 6);
            var target = inputs.Randn(8, 4);
            optimizer.ZeroGrad();
            var loss = F.MseLoss(layer.Forward(x), target);
            loss.Backward();
            optimizer.Step();

            var losses = new TorchTensor[sides.Length];
            for (int s = 0; s < sides.Length; s++)
            {
                var side = sides[s];
                side.Optimizer.zero_grad();
                losses[s] = nn.functional.mse_loss(
                    nn.functional.linear(LibTorch.From(x, dtype: side.Type), side.Weight, side.Bias),
                    LibTorch.From(target, dtype: side.Type));
                losses[s].backward();
                side.Optimizer.step();
            }
            check.Close($"step {step} loss", loss, losses[0], losses[1]);
            check.Close($"step {step} weight", layer.Weight, sides[0].Weight, sides[1].Weight);
            check.Close($"step {step} bias", layer.Bias, sides[0].Bias, sides[1].Bias);
        }
    }
}
