using System.Globalization;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Distributed.Checks;

/// <summary>
/// Checks that every rank of a group runs and that compare the distributed result with one process computing the
/// same thing on the whole batch (every rank computes that reference itself, from the same seeded data). A check
/// throws <see cref="InvalidOperationException"/> naming the rank, the quantity and both values when it fails, and
/// returns a summary with the largest differences when it passes. Used by the thread-backend tests directly and by
/// the MPI tests through this program.
/// </summary>
public static class DistributedChecks
{
    /// <summary>Largest relative difference allowed for SyncBatchNorm against BatchNorm (relative to the largest reference value).</summary>
    public const double SyncBatchNormTolerance = 1e-5;

    /// <summary>Largest difference allowed between data-parallel and single-process parameters and buffers, relative to max(1, |value|).</summary>
    public const double DataParallelTolerance = 1e-4;

    /// <summary>The checks <see cref="Run"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["syncbn", "syncbn-channels-last", "ddp-sgd", "ddp-adam", "collectives", "fail"];

    /// <summary>Runs the check called <paramref name="name"/> on this rank.</summary>
    public static string Run(string name, ProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        return name switch
        {
            "syncbn" => SyncBatchNorm(group, channelAxis: 1),
            "syncbn-channels-last" => SyncBatchNorm(group, channelAxis: -1),
            "ddp-sgd" => DataParallel(group, adam: false),
            "ddp-adam" => DataParallel(group, adam: true),
            "collectives" => Collectives(group),
            "fail" => FailingRank(group),
            _ => throw new ArgumentException($"Unknown check \"{name}\"; expected one of {string.Join(", ", Names)}.", nameof(name)),
        };
    }

    /// <summary>Samples per rank: unequal, and with 3 ranks one rank without samples.</summary>
    public static int[] Shards(int worldSize) => worldSize switch
    {
        1 => [7],
        2 => [3, 5],
        3 => [5, 0, 3],
        _ => [.. Enumerable.Range(0, worldSize).Select(r => 1 + r % 3)],
    };

    /// <summary>
    /// Three training steps of SyncBatchNorm on unequal shards against BatchNorm2d on the concatenated batch: each
    /// rank's output and input gradient, the weight and bias gradients summed over ranks, the running statistics and
    /// the count after the steps, and an evaluation forward.
    /// </summary>
    public static string SyncBatchNorm(ProcessGroup group, int channelAxis)
    {
        ArgumentNullException.ThrowIfNull(group);
        const int channels = 3;
        int[] sample = channelAxis == 1 ? [channels, 2, 3] : [2, 3, channels];
        int sampleLength = sample.Aggregate(1, (a, b) => a * b);
        var shards = Shards(group.WorldSize);
        int total = shards.Sum(), first = shards.Take(group.Rank).Sum(), mine = shards[group.Rank];

        var reference = new BatchNorm2d(channels, channelAxis: channelAxis);
        var synced = new NormSharp.Distributed.SyncBatchNorm(channels, group, channelAxis: channelAxis);
        var parameters = Random(11, 2 * channels, 1, 0.5f);
        foreach (var layer in new NormBase[] { reference, synced })
        {
            parameters.AsSpan(0, channels).CopyTo(layer.Weight!.AsSpan());
            parameters.AsSpan(channels).CopyTo(layer.Bias!.AsSpan());
        }
        var worst = new Worst();
        for (int step = 0; step < 3; step++)
        {
            // per-channel offsets of order 10 make the merge of the ranks' moments matter
            var x = Random(100 + step, total * sampleLength, 10, 2);
            var upstream = Random(200 + step, total * sampleLength, 0, 1);
            int[] fullShape = [total, .. sample], myShape = [mine, .. sample];

            var fullInput = Tensor.FromArray(x, fullShape);
            fullInput.RequiresGrad = true;
            reference.ZeroGrad();
            var fullOutput = reference.Forward(fullInput);
            (fullOutput * Tensor.FromArray(upstream, fullShape)).Sum().Backward();

            var input = Tensor.FromArray(x[(first * sampleLength)..((first + mine) * sampleLength)], myShape);
            input.RequiresGrad = true;
            synced.ZeroGrad();
            var output = synced.Forward(input);
            (output * Tensor.FromArray(upstream[(first * sampleLength)..((first + mine) * sampleLength)], myShape)).Sum().Backward();

            var range = (first * sampleLength)..((first + mine) * sampleLength);
            worst.Compare(group, $"step {step} output", output.ToArray(), fullOutput.ToArray(), range, SyncBatchNormTolerance);
            worst.Compare(group, $"step {step} input gradient", input.Grad!.ToArray(), fullInput.Grad!.ToArray(), range, SyncBatchNormTolerance);
            worst.Compare(group, $"step {step} weight gradient (sum over ranks)", SumOverRanks(group, synced.Weight!.Grad), reference.Weight!.Grad!.ToArray(), null, SyncBatchNormTolerance);
            worst.Compare(group, $"step {step} bias gradient (sum over ranks)", SumOverRanks(group, synced.Bias!.Grad), reference.Bias!.Grad!.ToArray(), null, SyncBatchNormTolerance);
        }
        worst.Compare(group, "running mean", synced.RunningMean!.ToArray(), reference.RunningMean!.ToArray(), null, SyncBatchNormTolerance);
        worst.Compare(group, "running variance", synced.RunningVar!.ToArray(), reference.RunningVar!.ToArray(), null, SyncBatchNormTolerance);
        if (synced.NumBatchesTracked != reference.NumBatchesTracked)
        {
            throw new InvalidOperationException($"Rank {group.Rank}: NumBatchesTracked {synced.NumBatchesTracked}, BatchNorm2d {reference.NumBatchesTracked}.");
        }
        synced.Eval();
        reference.Eval();
        var evalInput = Random(300, mine * sampleLength, 10, 2);
        worst.Compare(group, "evaluation output", synced.Forward(Tensor.FromArray(evalInput, [mine, .. sample])).ToArray(),
            reference.Forward(Tensor.FromArray(evalInput, [mine, .. sample])).ToArray(), null, SyncBatchNormTolerance);
        return $"{mine} of {total} samples, largest relative difference {worst}";
    }

    /// <summary>
    /// Four steps of the BN CNN with SyncBatchNorm and DistributedDataParallel (2 · 6 samples per step on 2 ranks,
    /// equal shards) against one process on the batches of 12; every parameter and buffer after the steps.
    /// Each rank starts from its own random initialization: the broadcast from rank 0 must make them equal.
    /// </summary>
    public static string DataParallel(ProcessGroup group, bool adam)
    {
        ArgumentNullException.ThrowIfNull(group);
        const int batch = 12, steps = 4, classes = 3;
        if (batch % group.WorldSize != 0)
        {
            throw new ArgumentException($"The data-parallel check splits {batch} samples evenly; {group.WorldSize} ranks do not divide it.", nameof(group));
        }
        int shard = batch / group.WorldSize, first = group.Rank * shard;
        var reference = SmallCnn(new Generator(7), classes);
        var replica = (Sequential)NormSharp.Distributed.SyncBatchNorm.Convert(SmallCnn(new Generator(7 + 1000 * group.Rank), classes), group);
        var parallel = new DistributedDataParallel(replica, group);
        var referenceOptimizer = CreateOptimizer(reference.Parameters(), adam);
        var optimizer = CreateOptimizer(parallel.Parameters(), adam);
        for (int step = 0; step < steps; step++)
        {
            var images = Random(500 + step, batch * 64, 0, 1);
            var generator = new Generator(600 + step);
            var labels = Enumerable.Range(0, batch).Select(_ => generator.NextInt(classes)).ToArray();

            referenceOptimizer.ZeroGrad();
            F.CrossEntropy(reference.Forward(Tensor.FromArray(images, batch, 1, 8, 8)), labels).Backward();
            referenceOptimizer.Step();

            optimizer.ZeroGrad();
            var shardImages = Tensor.FromArray(images[(first * 64)..((first + shard) * 64)], shard, 1, 8, 8);
            F.CrossEntropy(parallel.Forward(shardImages), labels[first..(first + shard)]).Backward();
            parallel.SynchronizeGradients();
            optimizer.Step();
        }
        var expected = reference.StateDict();
        double largest = 0;
        string where = "";
        foreach (var (key, value) in replica.StateDict())
        {
            var actual = value.ToArray();
            var wanted = expected[key].ToArray();
            for (int i = 0; i < actual.Length; i++)
            {
                double difference = Math.Abs(actual[i] - wanted[i]);
                if (difference > largest)
                {
                    (largest, where) = (difference, $"{key}[{i}]: {actual[i]:G9} vs {wanted[i]:G9}");
                }
                if (difference > DataParallelTolerance * Math.Max(1, Math.Abs(wanted[i])))
                {
                    throw new InvalidOperationException(
                        $"Rank {group.Rank}: after {steps} {(adam ? "Adam" : "SGD")} steps {key}[{i}] is {actual[i]:G9}, single-process {wanted[i]:G9} (tolerance {DataParallelTolerance:G3} · max(1, |value|)).");
                }
            }
        }
        return $"{steps} {(adam ? "Adam" : "SGD")} steps, {parallel.BucketCount} bucket(s), largest state difference {largest:G3} at {where}";
    }

    /// <summary>AllReduce (sum, mean; float, double), AllGather, Broadcast and Barrier against values every rank can compute.</summary>
    public static string Collectives(ProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        int rank = group.Rank, size = group.WorldSize;
        var floats = new[] { rank + 1f, 10f * rank, -rank };
        group.AllReduce(floats, ReduceOp.Sum);
        Expect(group, "AllReduce float sum", floats, [size * (size + 1) / 2f, 10f * size * (size - 1) / 2, -size * (size - 1) / 2f]);
        var doubles = new[] { rank + 0.5, 1e300 / size };
        group.AllReduce(doubles, ReduceOp.Mean);
        Expect(group, "AllReduce double mean", doubles, [(size - 1) / 2.0 + 0.5, 1e300 / size]);
        var gathered = new float[2 * size];
        group.AllGather(new[] { rank, rank * rank + 0.25f }, gathered);
        Expect(group, "AllGather", gathered, [.. Enumerable.Range(0, size).SelectMany(r => new[] { r, r * r + 0.25f })]);
        var broadcast = new double[] { rank, -rank };
        group.Broadcast(broadcast, size - 1);
        Expect(group, "Broadcast", broadcast, [size - 1, -(size - 1)]);
        group.Barrier();
        return "AllReduce, AllGather, Broadcast, Barrier agree";
    }

    /// <summary>Rank 1 throws before its first collective while the others start a SyncBatchNorm forward.</summary>
    public static string FailingRank(ProcessGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Rank == 1)
        {
            throw new InvalidOperationException("rank 1 fails on purpose before its first collective");
        }
        var layer = new NormSharp.Distributed.SyncBatchNorm(2, group);
        layer.Forward(Tensor.FromArray(Random(1, 8, 0, 1), 4, 2));
        return "unreachable: the other ranks waited for a rank that failed";
    }

    // No bias before a batch norm: its gradient is zero up to rounding, which Adam would turn into full-size steps.
    private static Sequential SmallCnn(Generator generator, int classes) => new(
        new Conv2d(1, 4, 3, padding: 1, bias: false, generator: generator), new BatchNorm2d(4), new ReLU(), new MaxPool2d(2),
        new Flatten(), new Linear(4 * 4 * 4, 8, bias: false, generator: generator), new BatchNorm1d(8), new ReLU(), new Linear(8, classes, generator: generator));

    private static Optimizer CreateOptimizer(IEnumerable<Tensor> parameters, bool adam) =>
        adam ? new Adam(parameters, lr: 0.01) : new SGD(parameters, lr: 0.1, momentum: 0.9);

    private static float[] SumOverRanks(ProcessGroup group, Tensor? gradient)
    {
        var values = gradient?.ToArray() ?? throw new InvalidOperationException($"Rank {group.Rank}: a SyncBatchNorm parameter got no gradient.");
        group.AllReduce(values, ReduceOp.Sum);
        return values;
    }

    private static float[] Random(int seed, int count, float mean, float std)
    {
        var values = new float[count];
        new Generator(seed).FillNormal(values, mean, std);
        return values;
    }

    private static void Expect<T>(ProcessGroup group, string what, T[] actual, T[] expected)
    {
        if (!actual.SequenceEqual(expected))
        {
            throw new InvalidOperationException(
                $"Rank {group.Rank} of {group.WorldSize}: {what} gave [{string.Join(", ", actual)}], expected [{string.Join(", ", expected)}].");
        }
    }

    /// <summary>The largest relative difference seen, and the check that fails past the tolerance.</summary>
    private sealed class Worst
    {
        private double largest;
        private string where = "every value bit-identical";

        public void Compare(ProcessGroup group, string what, float[] actual, float[] reference, Range? range, double tolerance)
        {
            var expected = range is { } r ? reference[r] : reference;
            if (actual.Length != expected.Length)
            {
                throw new InvalidOperationException($"Rank {group.Rank}: {what} has {actual.Length} values, the reference {expected.Length}.");
            }
            double scale = Math.Max(reference.Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max(), double.Epsilon);
            for (int i = 0; i < actual.Length; i++)
            {
                double relative = Math.Abs((double)actual[i] - expected[i]) / scale;
                if (relative > largest)
                {
                    (largest, where) = (relative, what);
                }
                if (!(relative <= tolerance))
                {
                    throw new InvalidOperationException(
                        $"Rank {group.Rank} of {group.WorldSize}: {what}[{i}] is {actual[i]:G9}, single-process BatchNorm gives {expected[i]:G9} (relative difference {relative:G3} > {tolerance:G3}).");
                }
            }
        }

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{largest:G3} ({where})");
    }
}
