using System.Diagnostics;
using NormSharp.Distributed.Checks;

namespace NormSharp.Distributed.Tests;

/// <summary>
/// The distributed checks on the MPI backend: `mpiexec -n 2` and `-n 3` (MPICH) start the runner program, whose ranks
/// run the checks of <see cref="DistributedChecks"/> and print one "passed" line each. Skipped with the reason where
/// MPICH is missing (build/Mpich.targets installs it on a root Debian machine); with CI=true a skip is a failure.
/// </summary>
/// <remarks>
/// Processes run as root here: MPICH's hydra needs no flag for that (Open MPI would need --allow-run-as-root).
/// stdin is closed (mpiexec forwards it to rank 0). Oversubscribed ranks (more ranks than cores) busy-wait in MPICH;
/// the runner's collectives yield while they poll. A job that does not end within <see cref="JobTimeout"/> is killed
/// and fails the test: never a hang.
/// </remarks>
[Collection("MPI jobs")]
public class MpiTests
{
    /// <summary>The longest an mpiexec job may run before the test kills it and fails.</summary>
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);

    private const string AllChecks = "collectives,syncbn,syncbn-channels-last,ddp-sgd,ddp-adam";

    [SkippableTheory]
    [InlineData(2)]
    [InlineData(3)]
    public void Every_check_passes_on_every_rank(int processes)
    {
        var job = Launch(processes, AllChecks);
        Assert.True(job.ExitCode == 0, $"mpiexec -n {processes} exited with {job.ExitCode}:\n{job.Output}");
        foreach (var check in AllChecks.Split(','))
        {
            for (int rank = 0; rank < processes; rank++)
            {
                // each rank prints its line only after its check returned: an exit code 0 alone can hide a rank
                // that left without finalizing MPI
                Assert.Contains($"rank {rank} of {processes} passed {check}:", job.Output, StringComparison.Ordinal);
            }
        }
    }

    [SkippableFact]
    public void A_rank_that_throws_ends_the_whole_job_with_its_error()
    {
        var job = Launch(2, "fail");
        Assert.NotEqual(0, job.ExitCode);
        Assert.Contains("rank 1 of 2 failed, aborting every rank (MPI_Abort): InvalidOperationException: rank 1 fails on purpose", job.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("passed", job.Output, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void Distributed_training_from_the_command_line_reaches_the_single_process_model()
    {
        FindMpiexec();   // skip before the single-process run when there is no MPI
        string folder = Path.Combine(Path.GetTempPath(), "normsharp-mpi-" + Guid.NewGuid().ToString("N"));
        try
        {
            // The batch-norm MLP has no dropout: 2 MPI ranks must follow one process up to rounding. SGD, not Adam: the
            // weights of always-blank border pixels get gradients that are zero up to rounding, which Adam scales to full steps.
            string[] train = ["train", "--model", "mlp", "--norm", "batch", "--optimizer", "sgd", "--epochs", "1", "--train-limit", "600", "--batch-size", "50", "--seed", "3"];
            var single = Run("dotnet", [Cli, .. train, "--out", Path.Combine(folder, "single")]);
            Assert.True(single.ExitCode == 0, single.Output);
            var job = Launch(2, [Cli, .. train, "--distributed", "--out", Path.Combine(folder, "mpi")]);
            Assert.True(job.ExitCode == 0, job.Output);
            Assert.Contains("on 2 MPI ranks × 25 samples", job.Output, StringComparison.Ordinal);

            var expected = NormSharp.Serialization.Checkpoint.Read(Path.Combine(folder, "single", "model.safetensors")).ModuleState;
            var actual = NormSharp.Serialization.Checkpoint.Read(Path.Combine(folder, "mpi", "model.safetensors")).ModuleState;
            Assert.Equal(expected.Keys, actual.Keys);
            foreach (var (key, value) in expected)
            {
                var wanted = value.ToArray();
                var got = actual[key].ToArray();
                for (int i = 0; i < wanted.Length; i++)
                {
                    Assert.True(Math.Abs(got[i] - wanted[i]) <= 1e-3 * Math.Max(1, Math.Abs(wanted[i])), $"{key}[{i}]: MPI {got[i]}, single process {wanted[i]}");
                }
            }
            // rank 0 alone writes: one folder with the single-process run's files
            Assert.Equal(Directory.GetFiles(Path.Combine(folder, "single")).Select(Path.GetFileName).Order(),
                Directory.GetFiles(Path.Combine(folder, "mpi")).Select(Path.GetFileName).Order());
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public void A_missing_MPI_library_is_reported_with_the_package_to_install()
    {
        // In this collection: the MPI jobs above would inherit the variable.
        const string variable = "NORMSHARP_MPI_LIBRARY";
        var previous = Environment.GetEnvironmentVariable(variable);
        Environment.SetEnvironmentVariable(variable, "/nonexistent/libmpich.so.12");
        try
        {
            var error = Assert.Throws<DllNotFoundException>(() => ProcessGroup.Mpi());
            Assert.Contains("tried /nonexistent/libmpich.so.12", error.Message, StringComparison.Ordinal);
            Assert.Contains("apt-get install mpich", error.Message, StringComparison.Ordinal);
            Assert.Contains("libmpich12", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, previous);
        }
    }

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "NormSharp.Cli.dll");

    private static (int ExitCode, string Output) Launch(int processes, string checks)
    {
        var runner = Path.Combine(AppContext.BaseDirectory, "NormSharp.Distributed.Runner.dll");
        Assert.True(File.Exists(runner), $"The runner program is missing: {runner}");
        return Launch(processes, [runner, checks]);
    }

    /// <summary>mpiexec -n <paramref name="processes"/> dotnet <paramref name="arguments"/>.</summary>
    private static (int ExitCode, string Output) Launch(int processes, string[] arguments) =>
        Run(FindMpiexec(), ["-n", processes.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet", .. arguments]);

    private static (int ExitCode, string Output) Run(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["NORMSHARP_TEST_TIMEOUT_S"] = "120";
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(JobTimeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', arguments)} did not end within {JobTimeout.TotalMinutes} minutes (killed).");
        }
        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    private static string FindMpiexec()
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator);
        foreach (var name in new[] { "mpiexec.mpich", "mpiexec" })
        {
            foreach (var directory in directories)
            {
                var path = Path.Combine(directory, name);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }
        const string reason = "MPICH's mpiexec is not installed (Debian: apt-get install mpich libmpich-dev; the build installs it itself as root on Debian).";
        Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
            $"CI=true: the MPI tests must run, not be skipped. {reason}");
        Skip.If(true, reason);
        return "";
    }
}
