using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Bench;

/// <summary>
/// <c>--memory</c>: what a steady-state training step costs the memory system, per step, for the demo's BN CNN and the
/// CIFAR-shaped ResNets: garbage collections (all, and the blocking ones the storage pool requests), minor page faults
/// (fresh memory the kernel had to map), pooled-size arrays the storage pool had to take from the runtime (none when
/// every activation, gradient and saved tensor came back within the step) and managed bytes allocated. The step is
/// written as a user writes it, after warm-up steps: the CNN is a Sequential (which disposes its activations), the
/// ResNets' blocks dispose their intermediates with <c>using</c> (ResNetModels.cs).
/// </summary>
internal static class MemoryReport
{
    public static string Run(int steps)
    {
        var rows = new List<string>
        {
            "| model | batch | ms/step | GCs/step (gen 0/1/2) | pool-requested collections/step | fresh pooled arrays/step | minor page faults/step | MB allocated/step |",
            "|---|---:|---:|---|---:|---:|---:|---:|",
        };
        var cnn = CnnExperiment.Spec("CNN, batch norm", NormKind.Batch, DemoBudget.Full, 0, DemoBudget.Full.CnnLearningRate);
        rows.Add(Measure("demo BN CNN, Adam", cnn.BatchSize, [cnn.BatchSize, 1, 28, 28], steps, () =>
        {
            var model = Models.Create(cnn.Model, cnn.Norm, [1, 28, 28], 10, new Generator(0));
            return (model, Models.CreateOptimizer(cnn.Optimizer, model.Parameters(), cnn.LearningRate));
        }));
        foreach (var (name, stages, batch) in new[] { ("CIFAR-shaped ResNet (2 blocks at 32), SGD", ResNetModels.TwoBlocks, 32), ("ResNet-20, SGD", ResNetModels.ResNet20, 32) })
        {
            rows.Add(Measure(name, batch, [batch, 3, 32, 32], steps, () =>
            {
                var model = ResNetModels.Ours(stages, 3, 10, new Generator(4));
                return (model, new SGD(model.Parameters(), 0.1, momentum: 0.9, weightDecay: 5e-4));
            }));
        }
        return string.Join(Environment.NewLine, rows);
    }

    private static string Measure(string name, int batch, int[] shape, int steps, Func<(Nn.Module Model, Optimizer Optimizer)> create)
    {
        var (model, optimizer) = create();
        var data = TorchUtil.Normal(1, shape.Aggregate(1L, (a, b) => a * b));
        var input = Tensor.FromArray(data, shape);
        var labels = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        void Step()
        {
            var loss = F.CrossEntropy(model.Forward(input), labels);
            optimizer.ZeroGrad();
            loss.Backward();
            optimizer.Step();
        }
        for (int i = 0; i < 5; i++)
        {
            Step();
        }
        var before = Snapshot();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < steps; i++)
        {
            Step();
        }
        double ms = clock.Elapsed.TotalMilliseconds / steps;
        var after = Snapshot();
        string PerStep(long a, long b) => ((double)(b - a) / steps).ToString("0.##", CultureInfo.InvariantCulture);
        return $"| {name} | {batch} | {ms.ToString("F1", CultureInfo.InvariantCulture)} | {PerStep(before.Gen0, after.Gen0)} / {PerStep(before.Gen1, after.Gen1)} / {PerStep(before.Gen2, after.Gen2)} | " +
               $"{PerStep(before.Requested, after.Requested)} | {PerStep(before.Fresh, after.Fresh)} | {PerStep(before.Faults, after.Faults)} | {((after.Bytes - before.Bytes) / 1e6 / steps).ToString("F1", CultureInfo.InvariantCulture)} |";
    }

    private static (long Gen0, long Gen1, long Gen2, long Requested, long Fresh, long Faults, long Bytes) Snapshot() =>
        (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), StoragePool.RequestedCollections, StoragePool.FreshArrays, MinorFaults(),
            GC.GetTotalAllocatedBytes(precise: true));

    // Field 10 of /proc/self/stat: minor faults of the process.
    private static long MinorFaults()
    {
        const string path = "/proc/self/stat";
        if (!File.Exists(path))
        {
            return 0;
        }
        string stat = File.ReadAllText(path);
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);   // fields after "(comm)" start at field 3
    }
}
