using NormSharp.Cli;
using NormSharp.Cli.Experiments;
using NormSharp.Data;
using NormSharp.Nn;
using NormSharp.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace NormSharp.Bench;

/// <summary>
/// One training epoch of the demo's models on the demo's data: the paper MLP and the BN CNN as the CLI's
/// <see cref="Models.Create"/> builds them for <c>normsharp demo</c>, with the demo's optimizer, learning rate and
/// batch size, and a 784-256-BN-ReLU-10 MLP with Adam (a common small BN benchmark); each mirrored layer for layer in libtorch by
/// <see cref="TorchMirror"/>, both sides in training mode. The data is what the demo loads through
/// <see cref="DataSource"/> (Debian's Fashion-MNIST, 60,000 training images, else the embedded 6,000-image subset,
/// whose size the case names then), standardized with the training set's mean and std, shuffled once with a fixed
/// seed, last partial batch dropped; both sides train on the same batches. A step is forward, cross-entropy, backward,
/// optimizer step. Before timing, each side trains 20 steps (JIT, allocator, optimizer state).
/// </summary>
internal static class EpochCases
{
    public static IEnumerable<BenchCase> All(int runs, int? batchLimit)
    {
        // Loaded and cut into batches only when a case is measured (a filtered run may skip them all); the embedded
        // subset is small enough to read now, for its size in the case names.
        var data = new Lazy<LoadedData>(() => DataSource.Load(null));
        int? subsetCount = DataSource.HoldsDataSet(DataSource.DebianDirectory) ? null : data.Value.Train.Count;

        Nn.Sequential Demo(RunSpec spec, LoadedData loaded) =>
            Models.Create(spec.Model, spec.Norm, loaded.Train.SampleShape, Math.Max(loaded.Train.ClassCount, loaded.Test.ClassCount), new Generator(spec.Seed));

        var paperMlp = PaperMlpExperiment.Spec("paper MLP, batch norm", NormKind.Batch, DemoBudget.Full, DemoSeed);
        yield return Epoch(data, $"paper MLP 784-100-100-100-10, BN + sigmoid, SGD, batch {paperMlp.BatchSize}", subsetCount,
            paperMlp, loaded => Demo(paperMlp, loaded), runs, batchLimit);

        // The CLI has no model kind for this MLP; only the optimizer settings and the batch size of this spec are read.
        var adamMlp = new RunSpec("MLP 784-256-BN-ReLU-10", ModelKind.Mlp, NormKind.Batch, OptimizerKind.Adam, 1e-3, BatchSize: 64, Seed: DemoSeed);
        yield return Epoch(data, $"MLP 784-256-BN-ReLU-10, Adam, batch {adamMlp.BatchSize}", subsetCount, adamMlp,
            loaded =>
            {
                var generator = new Generator(adamMlp.Seed);
                int inputFeatures = loaded.Train.SampleShape.Aggregate(1, (a, b) => a * b);
                return new Nn.Sequential(new Flatten(),
                    new Nn.Linear(inputFeatures, 256, generator: generator), new Nn.BatchNorm1d(256), new Nn.ReLU(),
                    new Nn.Linear(256, 10, generator: generator));
            },
            runs, batchLimit);

        var cnn = CnnExperiment.Spec("CNN, batch norm", NormKind.Batch, DemoBudget.Full, DemoSeed, DemoBudget.Full.CnnLearningRate);
        yield return Epoch(data, $"BN CNN (conv32-BN-ReLU-pool, conv64-BN-ReLU-pool, 3136-128-BN-ReLU-dropout 0.3-10), Adam, batch {cnn.BatchSize}", subsetCount,
            cnn, loaded => Demo(cnn, loaded), runs, batchLimit);
    }

    /// <summary>The demo's default --seed.</summary>
    private const int DemoSeed = 0;

    /// <param name="subsetCount">The training-set size when it is not the full set (for the name); null for the full set.</param>
    /// <param name="training">The optimizer, its settings and the batch size.</param>
    /// <param name="ourModel">Builds the NormSharp model for the loaded data; libtorch's is its <see cref="TorchMirror"/>.</param>
    private static BenchCase Epoch(
        Lazy<LoadedData> lazyData, string name, int? subsetCount, RunSpec training, Func<LoadedData, Nn.Sequential> ourModel, int runs, int? batchLimit)
    {
        int batchSize = training.BatchSize;
        // The same shuffled batches for both sides, cut once.
        var cut = new Lazy<(float[][] Images, int[][] Labels, int[] Shape)>(() =>
        {
            var train = lazyData.Value.Train;
            var loader = new DataLoader(train, batchSize, shuffle: true, dropLast: true, generator: new Generator(1234));
            var batches = loader.Take(batchLimit ?? loader.Count).ToArray();
            return (batches.Select(b => b.Images.ToArray()).ToArray(), batches.Select(b => b.Labels).ToArray(), [batchSize, .. train.SampleShape]);
        });
        var details = new List<string>();
        if (subsetCount is int count)
        {
            details.Add($"{count:N0} images");
        }
        if (batchLimit is int limit)
        {
            details.Add($"{(subsetCount is int known ? Math.Min(limit, known / batchSize) : limit)} batches");
        }

        return new BenchCase("Training epoch", details.Count > 0 ? $"{name} ({string.Join(", ", details)})" : name,
            NormSharp: () =>
            {
                var (images, labels, shape) = cut.Value;
                var model = ourModel(lazyData.Value);
                model.Train();
                var optimizer = Models.CreateOptimizer(training.Optimizer, model.Parameters(), training.LearningRate, training.Momentum, training.WeightDecay);
                void Step(int b)
                {
                    using var scope = Tensor.NewDisposeScope();
                    var loss = Models.Loss(model.Forward(Tensor.FromArray(images[b], shape)), labels[b]);
                    optimizer.ZeroGrad();
                    loss.Backward();
                    optimizer.Step();
                }
                for (int b = 0; b < Math.Min(20, images.Length); b++)
                {
                    Step(b);
                }
                return new Side(() =>
                {
                    for (int b = 0; b < images.Length; b++)
                    {
                        Step(b);
                    }
                });
            },
            Torch: () =>
            {
                var (images, labels, shape) = cut.Value;
                long[] torchShape = Array.ConvertAll(shape, d => (long)d);
                var model = TorchMirror.Of(ourModel(lazyData.Value));
                model.train();
                var optimizer = TorchOptimizer(training, model.parameters());
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
                for (int b = 0; b < Math.Min(20, images.Length); b++)
                {
                    Step(b);
                }
                return new Side(
                    () =>
                    {
                        for (int b = 0; b < images.Length; b++)
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

    /// <summary>libtorch's optimizer with <see cref="Models.CreateOptimizer"/>'s settings (Adam's betas given: TorchSharp's default β2 is not PyTorch's 0.999).</summary>
    private static torch.optim.Optimizer TorchOptimizer(RunSpec training, IEnumerable<TorchSharp.Modules.Parameter> parameters) => training.Optimizer switch
    {
        OptimizerKind.Sgd => torch.optim.SGD(parameters, training.LearningRate, momentum: training.Momentum, weight_decay: training.WeightDecay),
        OptimizerKind.Adam => torch.optim.Adam(parameters, training.LearningRate, beta1: 0.9, beta2: 0.999, weight_decay: training.WeightDecay),
        _ => torch.optim.AdamW(parameters, training.LearningRate, beta1: 0.9, beta2: 0.999, weight_decay: training.WeightDecay),
    };
}
