using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Running;

namespace NormSharp.Bench;

/// <summary>
/// Entry point. Default: the side-by-side table (NormSharp vs libtorch, interleaved A/B, medians, copy roofline),
/// printed and written to normsharp-out/bench.md. <c>--bdn [BenchmarkDotNet args]</c> runs the kernel
/// microbenchmarks instead.
/// </summary>
internal static class Program
{
    private const string Usage = """
        NormSharp.Bench: NormSharp vs libtorch (TorchSharp) side by side.
          dotnet run -c Release --project bench/NormSharp.Bench [-- options]
        options:
          --runs N       timed rounds per case (default 15; epochs use --epoch-runs)
          --warmup N     untimed rounds first (default 3)
          --epoch-runs N timed rounds of the full-epoch cases (default 3)
          --filter TEXT  only cases whose group or name contains TEXT (repeatable)
          --epoch-batches N  cut each "epoch" to N batches (default: the whole epoch)
          --no-epochs    skip the training-epoch cases
          --quick        smoke run: 3 rounds, 1 warm-up, epochs cut to 30 batches
          --out PATH     markdown output (default normsharp-out/bench.md)
          --memory N     GCs, pool collections, page faults and bytes per training step (N steps), then exit
          --bdn ...      BenchmarkDotNet kernel microbenchmarks; remaining arguments go to BenchmarkSwitcher
          --data-parallel [BLOCKS]      demo CNN step: 1 process vs 2 thread replicas (DataParallelBench.cs)
          --data-parallel-mpi [BLOCKS]  the same step on the ranks of mpiexec -n N
        """;

    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] is "--data-parallel" or "--data-parallel-mpi")
        {
            // Demo-CNN step time in one process, on 2 thread replicas, or (under mpiexec) on MPI ranks: DataParallelBench.cs.
            return DataParallelBench.Run(mpi: args[0] == "--data-parallel-mpi", blocks: args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5);
        }
        if (args.Length > 0 && args[0] == "--bdn")
        {
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
            return 0;
        }
        if (args.Length > 1 && args[0] == "--memory")
        {
            Console.WriteLine(MemoryReport.Run(int.Parse(args[1], CultureInfo.InvariantCulture)));
            return 0;
        }
        int runs = 15, warmup = 3, epochRuns = 3;
        bool quick = false, epochs = true;
        int? epochBatches = null;
        string output = Path.Combine("normsharp-out", "bench.md");
        var filters = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--runs": runs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--epoch-runs": epochRuns = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--filter": filters.Add(Next()); break;
                case "--quick": quick = true; break;
                case "--no-epochs": epochs = false; break;
                case "--epoch-batches": epochBatches = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--out": output = Next(); break;
                case "-h" or "--help": Console.WriteLine(Usage); return 0;
                default: Console.Error.WriteLine($"unknown option {args[i]}\n{Usage}"); return 2;
            }
        }
        if (quick)
        {
            runs = 3;
            warmup = 1;
            epochRuns = Math.Min(epochRuns, 2);
            epochBatches ??= 30;
        }
        if (runs < 1 || warmup < 0 || epochRuns < 1)
        {
            Console.Error.WriteLine($"--runs and --epoch-runs must be at least 1 and --warmup at least 0; got {runs}, {epochRuns}, {warmup}.");
            return 2;
        }

        TorchUtil.Initialize();
        var cases = Cases.All(epochRuns, epochBatches, epochs)
            .Where(c => filters.Count == 0 || filters.Any(f => (c.Group + " " + c.Name).Contains(f, StringComparison.OrdinalIgnoreCase)))
            .ToList();
        Console.WriteLine($"{cases.Count} cases, {runs} runs each after {warmup} warm-up runs; libtorch threads: {TorchSharp.torch.get_num_threads()}");
        string loadBefore = LoadAverage();
        var clock = Stopwatch.StartNew();
        // The first case a fresh process measures ran slower on both sides (BN eval (32,64,56,56): NormSharp 0.75-1.2 ms
        // vs 0.4 ms later in the run, libtorch up to 8 ms vs 0.5 ms); one untimed pass over the first kernel case first.
        if (cases.FirstOrDefault(c => c.Runs is null) is { } first)
        {
            SideBySide.Measure(first, Math.Min(runs, 5), warmup);
        }
        var results = new List<CaseResult>();
        // Dequeued one by one so that a measured case's data can be collected before the next case allocates its own.
        var pending = new Queue<BenchCase>(cases);
        cases.Clear();
        while (pending.TryDequeue(out var benchCase))
        {
            results.Add(SideBySide.Measure(benchCase, runs, warmup, Console.WriteLine));
        }
        string markdown = Report.Markdown(results, runs, warmup, clock.Elapsed, $"load average {loadBefore} at the start, {LoadAverage()} at the end");
        Console.WriteLine();
        Console.WriteLine(markdown);
        Report.WriteAtomically(output, markdown);
        Console.WriteLine($"written to {Path.GetFullPath(output)}");
        return 0;
    }

    // The 1-minute load average: other processes on the machine make both sides slower, libtorch's spinning threads more so.
    private static string LoadAverage()
    {
        const string path = "/proc/loadavg";
        return File.Exists(path) ? File.ReadAllText(path).Split(' ')[0] : "unknown";
    }
}
