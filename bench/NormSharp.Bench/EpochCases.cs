using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// One training epoch on Fashion-MNIST (60,000 images, shuffled once with a fixed seed, last partial batch dropped)
/// of the demo's models (the paper MLP and the BN CNN as src/NormSharp.Cli/Experiments/Models.cs builds them, and the
/// issue's 784-256-BN-ReLU-10 MLP), each built identically in NormSharp and libtorch: forward, cross-entropy, backward,
/// optimizer step. Before timing, each side trains 20 steps (JIT, allocator, optimizer state).
/// </summary>
internal static class EpochCases
{
    public static IEnumerable<BenchCase> All(int runs, int? batchLimit)
    {
        if (!FashionMnist.Exists(FashionMnist.DefaultFolder, out string? reason))
        {
            Console.WriteLine($"epoch cases skipped: {reason}");
            yield break;
        }
        // Loaded and cut into batches only when a case is measured (a filtered run may skip them all).
        var data = new Lazy<FashionMnist>(() => FashionMnist.TryLoadTraining(FashionMnist.DefaultFolder, out _)!);
        yield return Epoch(data, "paper MLP 784-100-100-100-10, BN + sigmoid, SGD, batch 60", 60, runs, batchLimit,
            () => new Nn.Sequential(new Flatten(),
                new Nn.Linear(784, 100), new Nn.BatchNorm1d(100), new Nn.Sigmoid(),
                new Nn.Linear(100, 100), new Nn.BatchNorm1d(100), new Nn.Sigmoid(),
                new Nn.Linear(100, 100), new Nn.BatchNorm1d(100), new Nn.Sigmoid(),
                new Nn.Linear(100, 10)),
            () => nn.Sequential(nn.Flatten(),
                nn.Linear(784, 100), nn.BatchNorm1d(100), nn.Sigmoid(),
                nn.Linear(100, 100), nn.BatchNorm1d(100), nn.Sigmoid(),
                nn.Linear(100, 100), nn.BatchNorm1d(100), nn.Sigmoid(),
                nn.Linear(100, 10)),
            sgd: true, imageShape: false);
        yield return Epoch(data, "MLP 784-256-BN-ReLU-10, Adam, batch 64", 64, runs, batchLimit,
            () => new Nn.Sequential(new Flatten(), new Nn.Linear(784, 256), new Nn.BatchNorm1d(256), new Nn.ReLU(), new Nn.Linear(256, 10)),
            () => nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10)),
            sgd: false, imageShape: false);
        yield return Epoch(data, "BN CNN (conv32-BN-ReLU-pool, conv64-BN-ReLU-pool, 3136-128-BN-ReLU-10), Adam, batch 64", 64, runs, batchLimit,
            () => new Nn.Sequential(
                new Nn.Conv2d(1, 32, 3, padding: 1, bias: false), new Nn.BatchNorm2d(32), new Nn.ReLU(), new MaxPool2d(2),
                new Nn.Conv2d(32, 64, 3, padding: 1, bias: false), new Nn.BatchNorm2d(64), new Nn.ReLU(), new MaxPool2d(2),
                new Flatten(), new Nn.Linear(3136, 128), new Nn.BatchNorm1d(128), new Nn.ReLU(), new Nn.Linear(128, 10)),
            () => nn.Sequential(
                nn.Conv2d(1, 32, 3, padding: 1, bias: false), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding: 1, bias: false), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(3136, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 10)),
            sgd: false, imageShape: true);
    }

    private static BenchCase Epoch(
        Lazy<FashionMnist> lazyData, string name, int batchSize, int runs, int? batchLimit,
        Func<Nn.Sequential> ourModel, Func<nn.Module<TorchTensor, TorchTensor>> torchModel, bool sgd, bool imageShape)
    {
        // The same shuffled batches for both sides, cut once.
        int batches = 60000 / batchSize;
        if (batchLimit is int limit)
        {
            batches = Math.Min(batches, limit);
        }
        var cut = new Lazy<(float[][] Images, int[][] Labels)>(() =>
        {
            var data = lazyData.Value;
            var order = Enumerable.Range(0, data.Count).ToArray();
            new Random(1234).Shuffle(order);
            var images = new float[batches][];
            var labels = new int[batches][];
            for (int b = 0; b < batches; b++)
            {
                images[b] = new float[batchSize * 784];
                labels[b] = new int[batchSize];
                for (int i = 0; i < batchSize; i++)
                {
                    int sample = order[b * batchSize + i];
                    data.Images.AsSpan(sample * 784, 784).CopyTo(images[b].AsSpan(i * 784));
                    labels[b][i] = data.Labels[sample];
                }
            }
            return (images, labels);
        });
        int[] shape = imageShape ? [batchSize, 1, 28, 28] : [batchSize, 784];
        long[] torchShape = imageShape ? [batchSize, 1, 28, 28] : [batchSize, 784];
        const double learningRate = 1e-3, sgdRate = 0.1;

        return new BenchCase("Training epoch", batchLimit is null ? name : $"{name} ({batches} batches)",
            NormSharp: () =>
            {
                var (images, labels) = cut.Value;
                var model = ourModel();
                model.Train();
                Optimizer optimizer = sgd ? new SGD(model.Parameters(), sgdRate) : new Adam(model.Parameters(), learningRate);
                void Step(int b)
                {
                    var loss = F.CrossEntropy(model.Forward(Tensor.FromArray(images[b], shape)), labels[b]);
                    optimizer.ZeroGrad();
                    loss.Backward();
                    optimizer.Step();
                }
                for (int b = 0; b < Math.Min(20, batches); b++)
                {
                    Step(b);
                }
                return new Side(() =>
                {
                    for (int b = 0; b < batches; b++)
                    {
                        Step(b);
                    }
                });
            },
            Torch: () =>
            {
                var (images, labels) = cut.Value;
                var model = torchModel();
                model.train();
                torch.optim.Optimizer optimizer = sgd ? torch.optim.SGD(model.parameters(), sgdRate) : torch.optim.Adam(model.parameters(), learningRate);
                var targets = labels.Select(l => torch.tensor(Array.ConvertAll(l, v => (long)v))).ToArray();
                void Step(int b)
                {
                    using var scope = torch.NewDisposeScope();
                    optimizer.zero_grad();
                    var logits = model.forward(torch.tensor(images[b], torchShape));
                    var loss = nn.functional.cross_entropy(logits, targets[b]);
                    loss.backward();
                    optimizer.step();
                }
                for (int b = 0; b < Math.Min(20, batches); b++)
                {
                    Step(b);
                }
                return new Side(
                    () =>
                    {
                        for (int b = 0; b < batches; b++)
                        {
                            Step(b);
                        }
                    },
                    () =>
                    {
                        foreach (var t in targets)
                        {
                            t.Dispose();
                        }
                        optimizer.Dispose();
                        model.Dispose();
                    });
            },
            Runs: runs,
            Warmup: 0);
    }
}
