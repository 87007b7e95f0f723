using System.Diagnostics;
using System.Globalization;
using NormSharp.Cli.Experiments;
using NormSharp.Distributed;
using NormSharp.Functional;
using NormSharp.Nn;
using NormSharp.Optim;

namespace NormSharp.Bench;

/// <summary>
/// Step time of the demo CNN (batch norm, Adam, batch 64 of 28 × 28 images) trained in one process and data-parallel,
/// and the bytes each rank hands to the collectives per step. <c>--data-parallel</c>: one process against 2 thread
/// replicas, in alternating blocks in one process (a loaded machine slows both alike); under
/// <c>mpiexec -n N ... --data-parallel-mpi</c>: N MPI ranks, rank 0 prints. The batch is split over the ranks, so the
/// throughput is 64 samples per step time in every row.
/// </summary>
internal static class DataParallelBench
{
    private const int Batch = 64, Steps = 10, Warmup = 3;

    public static int Run(bool mpi, int blocks)
    {
        if (mpi)
        {
            using var group = ProcessGroup.Mpi();
            var times = new List<double>();
            var bytes = (AllReduce: 0L, Other: 0L);
            for (int block = 0; block < blocks; block++)
            {
                var (seconds, traffic) = Block(group);
                times.Add(seconds);
                bytes = traffic;
            }
            if (group.Rank == 0)
            {
                Print($"{group.WorldSize} MPI processes", times, bytes);
            }
            return 0;
        }
        var single = new List<double>();
        var replicated = new List<double>();
        var replicatedBytes = (AllReduce: 0L, Other: 0L);
        for (int block = 0; block < blocks; block++)
        {
            single.Add(Block(null).Seconds);
            ProcessGroup.RunThreads(2, group =>
            {
                var (seconds, traffic) = Block(group);
                if (group.Rank == 0)
                {
                    replicated.Add(seconds);
                    replicatedBytes = traffic;
                }
            });
        }
        Print("1 process", single, (0, 0));
        Print("2 thread replicas", replicated, replicatedBytes);
        return 0;
    }

    /// <summary>Median seconds per step of <see cref="Steps"/> timed steps after <see cref="Warmup"/>, and this rank's collective bytes per step.</summary>
    private static (double Seconds, (long AllReduce, long Other) Traffic) Block(ProcessGroup? group)
    {
        int ranks = group?.WorldSize ?? 1, rank = group?.Rank ?? 0, shard = Batch / ranks;
        var model = Models.Create(ModelKind.Cnn, NormKind.Batch, [1, 28, 28], 10, new Generator(0));
        Module forward = model;
        DistributedDataParallel? parallel = null;
        if (group is not null)
        {
            SyncBatchNorm.Convert(model, group);
            forward = parallel = new DistributedDataParallel(model, group);
        }
        var optimizer = new Adam(model.Parameters(), lr: 1e-3);
        var images = Tensor.Randn(new Generator(1 + rank), shard, 1, 28, 28);
        var labels = Enumerable.Range(0, shard).Select(i => (i * 7 + rank) % 10).ToArray();
        var times = new List<double>();
        long allReduceBefore = 0, otherBefore = 0;
        for (int step = 0; step < Warmup + Steps; step++)
        {
            if (step == Warmup && group is not null)
            {
                (allReduceBefore, otherBefore) = (group.AllReduceBytes, group.OtherCollectiveBytes);
            }
            group?.Barrier();
            var clock = Stopwatch.StartNew();
            optimizer.ZeroGrad();
            F.CrossEntropy(forward.Forward(images), labels).Backward();
            parallel?.SynchronizeGradients();
            optimizer.Step();
            group?.Barrier();   // the step ends when the slowest rank's does
            if (step >= Warmup)
            {
                times.Add(clock.Elapsed.TotalSeconds);
            }
        }
        times.Sort();
        var traffic = group is null ? (0L, 0L) : ((group.AllReduceBytes - allReduceBefore) / Steps, (group.OtherCollectiveBytes - otherBefore) / Steps);
        return (times[times.Count / 2], traffic);
    }

    private static void Print(string setting, List<double> blockMedians, (long AllReduce, long Other) bytes)
    {
        var sorted = blockMedians.Order().ToList();
        double median = sorted[sorted.Count / 2];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {setting} | {median * 1e3:0.0} ms (blocks {string.Join(", ", blockMedians.Select(t => (t * 1e3).ToString("0", CultureInfo.InvariantCulture)))}) | {Batch / median:0} samples/s | {bytes.AllReduce:N0} B | {bytes.Other:N0} B |"));
    }
}
