using System.Diagnostics;

namespace NormSharp.Bench;

/// <summary>One side of a comparison: the timed action and what to release afterwards.</summary>
internal sealed class Side(Action run, Action? dispose = null) : IDisposable
{
    public void Run() => run();

    public void Dispose() => dispose?.Invoke();
}

/// <summary>
/// One side-by-side case. <see cref="BytesMoved"/> is the memory traffic the operation cannot avoid (its
/// roofline numerator; 0 when the case is compute-bound or composite), <see cref="CopyBytes"/> the size of
/// the buffer the same-run copy moves to measure bandwidth at that working-set size.
/// </summary>
internal sealed record BenchCase(
    string Group,
    string Name,
    Func<Side> NormSharp,
    Func<Side> Torch,
    double BytesMoved = 0,
    long CopyBytes = 0,
    int? Runs = null,
    int? Warmup = null,
    string? Traffic = null);

/// <summary>Medians (seconds) of one case.</summary>
internal sealed record CaseResult(BenchCase Case, double NormSharp, double Torch, double Copy, int Runs)
{
    /// <summary>libtorch time / NormSharp time: above 1 means NormSharp is faster.</summary>
    public double Speedup => Torch / NormSharp;

    /// <summary>Copy bandwidth of this run, bytes per second (read + write).</summary>
    public double CopyBandwidth => Copy > 0 ? 2.0 * Case.CopyBytes / Copy : 0;

    /// <summary>Fraction of the copy roofline: (BytesMoved / copy bandwidth) / time.</summary>
    public double RooflineFraction(double seconds) =>
        Case.BytesMoved > 0 && CopyBandwidth > 0 ? Case.BytesMoved / CopyBandwidth / seconds : double.NaN;
}

/// <summary>
/// Times NormSharp and libtorch alternately in one process: after warm-up, each round runs A then B (or B
/// then A on odd rounds, so neither side always follows the other) and then a copy of the same working
/// set; the reported figure is the median over the rounds.
/// </summary>
/// <remarks>
/// Each timed run follows untimed runs of the same side lasting at least <see cref="Lead"/>: after an op, libtorch's
/// OpenMP workers (libgomp) keep spinning on the cores for several milliseconds and .NET's pool threads park, so a run
/// timed soon after the other side's measures that side's leftovers. On 2 cores, NormSharp's BN eval of
/// (128,256,14,14) took 1.2-2.7 ms with a 2 ms lead and 0.5-0.9 ms with a 20 ms one, libtorch's 0.6-0.9 ms with
/// either. Timed after its own runs, each side is measured as it runs in a training loop, back to back with itself.
/// </remarks>
internal static class SideBySide
{
    public static CaseResult Measure(BenchCase benchCase, int runs, int warmup, Action<string>? log = null)
    {
        runs = benchCase.Runs ?? runs;
        warmup = benchCase.Warmup ?? warmup;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var ours = benchCase.NormSharp();
        using var theirs = benchCase.Torch();
        var copy = benchCase.CopyBytes > 0 ? new CopyRoofline(benchCase.CopyBytes) : null;
        // Warm-up: at least `warmup` rounds and MinWarmup, so that the first case of a run is not timed on code the JIT
        // has not yet recompiled at its top tier (it does so in the background, 100 ms after calls stop being new).
        long warmupStart = Stopwatch.GetTimestamp();
        for (int i = 0; i < warmup || (warmup > 0 && Stopwatch.GetElapsedTime(warmupStart) < MinWarmup); i++)
        {
            ours.Run();
            theirs.Run();
            copy?.Run();
        }
        var oursTimes = new double[runs];
        var theirTimes = new double[runs];
        var copyTimes = new double[runs];
        for (int r = 0; r < runs; r++)
        {
            if (r % 2 == 0)
            {
                oursTimes[r] = TimeAfterLead(ours.Run);
                theirTimes[r] = TimeAfterLead(theirs.Run);
            }
            else
            {
                theirTimes[r] = TimeAfterLead(theirs.Run);
                oursTimes[r] = TimeAfterLead(ours.Run);
            }
            if (copy is not null)
            {
                copyTimes[r] = Time(copy.Run);
            }
        }
        // The result keeps the case's description, not its factories (whose closures hold the case's data).
        var description = benchCase with { NormSharp = Measured, Torch = Measured };
        var result = new CaseResult(description, Median(oursTimes), Median(theirTimes), copy is null ? 0 : Median(copyTimes), runs);
        log?.Invoke($"{benchCase.Group} | {benchCase.Name}: NormSharp {Format.Milliseconds(result.NormSharp)} ms, libtorch {Format.Milliseconds(result.Torch)} ms, x{result.Speedup:F2}");
        return result;
    }

    private static Side Measured() => throw new InvalidOperationException("This case has been measured; its data is released.");

    /// <summary>Shortest warm-up of a case (both sides together).</summary>
    private static readonly TimeSpan MinWarmup = TimeSpan.FromMilliseconds(300);

    /// <summary>How long a side runs untimed before each of its timed runs.</summary>
    private static readonly TimeSpan Lead = TimeSpan.FromMilliseconds(20);

    private static double TimeAfterLead(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        do
        {
            action();
        }
        while (Stopwatch.GetElapsedTime(start) < Lead);
        return Time(action);
    }

    private static double Time(Action action)
    {
        long start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    public static double Median(double[] values)
    {
        var sorted = (double[])values.Clone();
        Array.Sort(sorted);
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    }

    public static double GeometricMean(IEnumerable<double> values)
    {
        double logSum = 0;
        int count = 0;
        foreach (var v in values)
        {
            logSum += Math.Log(v);
            count++;
        }
        return count == 0 ? double.NaN : Math.Exp(logSum / count);
    }
}
