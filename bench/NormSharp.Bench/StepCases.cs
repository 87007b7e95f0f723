using NormSharp.Autograd;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// The "steps" group (issue 12): whole pieces of a training step as a user writes them, not one kernel in isolation:
/// elementwise ops, reductions and broadcasts with their backward, batch norm inside a loss, a ResNet basic block,
/// and full training steps (ResNet on CIFAR-shaped input, the issue's MLP).
/// </summary>
/// <remarks>
/// The NormSharp side is written the way a user writes it: <c>loss.Backward()</c>, gradients dropped with
/// <c>x.Grad = null</c> or <c>optimizer.ZeroGrad()</c>, nothing disposed by hand but what a TorchSharp user disposes
/// (the ResNet blocks' intermediates, with <c>using</c>), so the engine's own memory handling is what is measured. Both
/// sides run each repetition in their library's dispose scope (<c>Tensor.NewDisposeScope()</c>,
/// <c>torch.NewDisposeScope()</c>), which hands back the results a repetition drops. The libtorch side takes input
/// gradients through <c>autograd.grad</c> (the cost of <c>backward()</c> into an empty <c>.grad</c>: both steal the
/// buffer). The batch-norm rows print the memory-traffic floor of forward + loss + backward: 10S (statistics read x,
/// normalization reads x and writes y, the loss reads y and g, the backward's sums read g and x, dx reads g and x and
/// writes dx).
/// </remarks>
internal static class StepCases
{
    public static IEnumerable<BenchCase> All()
    {
        const int n = 32, c = 64, h = 56, w = 56;
        yield return Elementwise($"({n},{c},{h},{w}) (x * g).Sum().Backward()", [n, c, h, w],
            (x, g, bias) => (x * g).Sum(), (x, g, bias) => (x * g).sum(), withBias: false);
        yield return Elementwise($"({n},{c},{h},{w}) x.Relu().Sum().Backward()", [n, c, h, w],
            (x, g, bias) => x.Relu().Sum(), (x, g, bias) => x.relu().sum(), withBias: false);
        yield return Elementwise($"({n},{c},{h},{w}) (x + bias[1,C,1,1]).Mean().Backward()", [n, c, h, w],
            (x, g, bias) => (x + bias!).Mean(), (x, g, bias) => (x + bias!).mean(), withBias: true);
        yield return NoGradOp($"({n},{c},{h},{w}) x.Mean(1) under NoGrad", [n, c, h, w], x => x.Mean(1), x => x.mean([1]));
        yield return NoGradOp($"({n},{c},{h},{w}) x.Sum([0,2,3], keepDim) under NoGrad", [n, c, h, w],
            x => x.Sum([0, 2, 3], keepDim: true), x => x.sum([0, 2, 3], keepdim: true));
        yield return NoGradOp($"({n},{c},{h},{w}) x * bias[1,C,1,1] under NoGrad", [n, c, h, w],
            x => x * Tensor.Ones(1, c, 1, 1), x => x * torch.ones(1, c, 1, 1));
        yield return NoGradOp($"({n * h * w},{c}) rows + bias[C] under NoGrad", [n * h * w, c],
            x => x + Tensor.Ones(c), x => x + torch.ones(c));
        foreach (bool channelsLast in new[] { false, true })
        {
            foreach (var (bn, bc, bh, bw) in NormCases.Shapes2d)
            {
                yield return BatchNormLoss(bn, bc, bh, bw, channelsLast);
            }
        }
        yield return BasicBlock(16, 64, 28);
        yield return ResNetStep("CIFAR-shaped ResNet step (32,3,32,32): stem + 2 basic blocks at 32 channels, AvgPool, Linear, CE, SGD",
            ResNetModels.TwoBlocks, 32);
        yield return ResNetStep("ResNet-20 step (128,3,32,32): CE, SGD momentum 0.9", ResNetModels.ResNet20, 128);
        yield return MlpStep(64);
    }

    private const string Group = "Steps";

    // loss(x, g, bias) and its gradients of x (and bias); x ~ N(0.3, 1.7²), g ~ N(0, 1), bias of shape [1, C, 1, 1].
    private static BenchCase Elementwise(
        string name, int[] shape, Func<Tensor, Tensor, Tensor?, Tensor> ours, Func<TorchTensor, TorchTensor, TorchTensor?, TorchTensor> theirs, bool withBias)
    {
        var data = Data(shape, 21);
        long[] torchShape = Array.ConvertAll(shape, d => (long)d);
        int channels = shape[1];
        return new BenchCase(Group, name,
            NormSharp: () =>
            {
                var x = Tensor.FromArray(data.Value.X, shape);
                var g = Tensor.FromArray(data.Value.G, shape);
                var bias = withBias ? Tensor.Zeros(1, channels, 1, 1) : null;
                x.RequiresGrad = true;
                if (bias is not null)
                {
                    bias.RequiresGrad = true;
                }
                return new Side(() =>
                {
                    using var scope = Tensor.NewDisposeScope();
                    ours(x, g, bias).Backward();
                    x.Grad = null;
                    bias?.Grad = null;
                });
            },
            Torch: () =>
            {
                var x = torch.tensor(data.Value.X, torchShape).requires_grad_(true);
                var g = torch.tensor(data.Value.G, torchShape);
                var bias = withBias ? torch.zeros(1, channels, 1, 1).requires_grad_(true) : null;
                TorchTensor[] inputs = bias is null ? [x] : [x, bias];
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        torch.autograd.grad([theirs(x, g, bias)], inputs);
                    },
                    () =>
                    {
                        x.Dispose();
                        g.Dispose();
                        bias?.Dispose();
                    });
            });
    }

    private static BenchCase NoGradOp(string name, int[] shape, Func<Tensor, Tensor> ours, Func<TorchTensor, TorchTensor> theirs)
    {
        var data = Data(shape, 23);
        long[] torchShape = Array.ConvertAll(shape, d => (long)d);
        return new BenchCase(Group, name,
            NormSharp: () =>
            {
                var x = Tensor.FromArray(data.Value.X, shape);
                return new Side(() =>
                {
                    using var noGrad = new NoGrad();
                    using var scope = Tensor.NewDisposeScope();
                    ours(x);
                });
            },
            Torch: () =>
            {
                var x = torch.tensor(data.Value.X, torchShape);
                return new Side(
                    () =>
                    {
                        using var noGrad = torch.no_grad();
                        using var scope = torch.NewDisposeScope();
                        theirs(x);
                    },
                    x.Dispose);
            });
    }

    // y = BatchNorm2d(x) in training mode, loss = sum(y * g), gradients of x, weight and bias.
    private static BenchCase BatchNormLoss(int n, int c, int h, int w, bool channelsLast)
    {
        int[] shape = channelsLast ? [n, h, w, c] : [n, c, h, w];
        var data = Data(shape, 25);
        long bytes = (long)n * c * h * w * sizeof(float);
        return new BenchCase(Group, $"BatchNorm2d {(channelsLast ? "channels-last" : "NCHW")} ({n},{c},{h},{w}) forward, (y * g).Sum().Backward()",
            NormSharp: () =>
            {
                var layer = new Nn.BatchNorm2d(c, channelAxis: channelsLast ? -1 : 1);
                var x = Tensor.FromArray(data.Value.X, shape);
                var g = Tensor.FromArray(data.Value.G, shape);
                x.RequiresGrad = true;
                return new Side(() =>
                {
                    using var scope = Tensor.NewDisposeScope();
                    (layer.Forward(x) * g).Sum().Backward();
                    layer.ZeroGrad();
                    x.Grad = null;
                });
            },
            Torch: () =>
            {
                var layer = nn.BatchNorm2d(c);
                var x = (channelsLast ? TorchUtil.ChannelsLast(data.Value.X, n, c, h, w) : TorchUtil.From(data.Value.X, n, c, h, w)).requires_grad_(true);
                var g = channelsLast ? TorchUtil.ChannelsLast(data.Value.G, n, c, h, w) : TorchUtil.From(data.Value.G, n, c, h, w);
                var inputs = new List<TorchTensor> { x };
                inputs.AddRange(layer.parameters().Select(p => (TorchTensor)p));
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        torch.autograd.grad([(layer.forward(x) * g).sum()], inputs);
                    },
                    () =>
                    {
                        x.Dispose();
                        g.Dispose();
                        layer.Dispose();
                    });
            },
            BytesMoved: 10.0 * bytes,
            CopyBytes: bytes,
            Traffic: "10S");
    }

    // One basic block at 64 channels, forward and the gradients of its input and parameters for a random upstream gradient.
    private static BenchCase BasicBlock(int n, int c, int size)
    {
        int[] shape = [n, c, size, size];
        var data = Data(shape, 27);
        return new BenchCase(Group, $"ResNet basic block ({n},{c},{size},{size}): conv-BN-ReLU-conv-BN + x, ReLU, fwd+bwd",
            NormSharp: () =>
            {
                var block = new ResNetModels.OurBlock(c, c, 1, new Generator(3));
                var x = Tensor.FromArray(data.Value.X, shape);
                var g = Tensor.FromArray(data.Value.G, shape);
                x.RequiresGrad = true;
                var inputs = new List<Tensor> { x };
                inputs.AddRange(block.Parameters());
                return new Side(() =>
                {
                    using var scope = Tensor.NewDisposeScope();
                    Gradients.Of(block.Forward(x), inputs, g);
                });
            },
            Torch: () =>
            {
                var block = new ResNetModels.TorchBlock(c, c, 1);
                var x = TorchUtil.From(data.Value.X, n, c, size, size).requires_grad_(true);
                var g = TorchUtil.From(data.Value.G, n, c, size, size);
                var inputs = new List<TorchTensor> { x };
                inputs.AddRange(block.parameters().Select(p => (TorchTensor)p));
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        torch.autograd.grad([block.forward(x)], inputs, [g]);
                    },
                    () =>
                    {
                        x.Dispose();
                        g.Dispose();
                        block.Dispose();
                    });
            });
    }

    // Forward, cross-entropy, backward, SGD (lr 0.1, momentum 0.9, weight decay 5e-4, He et al.'s CIFAR settings).
    private static BenchCase ResNetStep(string name, (int Channels, int Blocks, int Stride)[] stages, int batch) =>
        TrainingStep(name, [batch, 3, 32, 32], 29,
            () =>
            {
                var model = ResNetModels.Ours(stages, 3, 10, new Generator(4));
                return (model, new SGD(model.Parameters(), 0.1, momentum: 0.9, weightDecay: 5e-4));
            },
            () =>
            {
                var model = ResNetModels.Torch(stages, 3, 10);
                return (model, torch.optim.SGD(model.parameters(), 0.1, momentum: 0.9, weight_decay: 5e-4));
            });

    // The issue's MLP: Linear(784,256)-BatchNorm1d-ReLU-Linear(256,10), cross-entropy, Adam (lr 1e-3).
    private static BenchCase MlpStep(int batch)
    {
        Nn.Sequential Model() => new(new Nn.Linear(784, 256, generator: new Generator(5)), new Nn.BatchNorm1d(256), new Nn.ReLU(),
            new Nn.Linear(256, 10, generator: new Generator(6)));
        return TrainingStep($"Linear(784,256)-BatchNorm1d-ReLU-Linear(256,10), CE, Adam, batch {batch}", [batch, 784], 31,
            () =>
            {
                var model = Model();
                return (model, new Adam(model.Parameters(), 1e-3));
            },
            () =>
            {
                var model = TorchMirror.Of(Model());
                return (model, torch.optim.Adam(model.parameters(), 1e-3, beta1: 0.9, beta2: 0.999));
            });
    }

    // One training step of a 10-class model on fixed random data and labels: forward, cross-entropy, zero the
    // gradients, backward, optimizer step.
    private static BenchCase TrainingStep(
        string name, int[] shape, int seed, Func<(Module Model, Optimizer Optimizer)> ours, Func<(nn.Module<TorchTensor, TorchTensor> Model, torch.optim.Optimizer Optimizer)> theirs)
    {
        var data = Data(shape, seed);
        var labels = Labels(shape[0], 10);
        return new BenchCase(Group, name,
            NormSharp: () =>
            {
                var (model, optimizer) = ours();
                var input = Tensor.FromArray(data.Value.X, shape);
                return new Side(() =>
                {
                    using var scope = Tensor.NewDisposeScope();
                    var loss = F.CrossEntropy(model.Forward(input), labels);
                    optimizer.ZeroGrad();
                    loss.Backward();
                    optimizer.Step();
                });
            },
            Torch: () =>
            {
                var (model, optimizer) = theirs();
                var input = torch.tensor(data.Value.X, Array.ConvertAll(shape, d => (long)d));
                var targets = torch.tensor(Array.ConvertAll(labels, l => (long)l));
                return new Side(
                    () =>
                    {
                        using var scope = torch.NewDisposeScope();
                        optimizer.zero_grad();
                        nn.functional.cross_entropy(model.forward(input), targets).backward();
                        optimizer.step();
                    },
                    () =>
                    {
                        input.Dispose();
                        targets.Dispose();
                        optimizer.Dispose();
                        model.Dispose();
                    });
            });
    }

    // x ~ N(0.3, 1.7²) and g ~ N(0, 1) of the given shape, made only when the case is measured.
    private static Lazy<(float[] X, float[] G)> Data(int[] shape, int seed)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        return new(() => (TorchUtil.Normal(seed, count, mean: 0.3f, std: 1.7f), TorchUtil.Normal(seed + 1, count)));
    }

    private static int[] Labels(int count, int classes)
    {
        var generator = new Random(17);
        return Enumerable.Range(0, count).Select(_ => generator.Next(classes)).ToArray();
    }
}
