using System.Diagnostics;

namespace NormSharp.Cli.Tests;

/// <summary>What a run of the normsharp program printed and returned.</summary>
internal sealed record CliRun(int ExitCode, string Output, string Error)
{
    /// <summary>Asserts a failure as a user should see it: a non-zero exit, one line on standard error holding <paramref name="expected"/>, no stack trace.</summary>
    public void AssertOneLineError(string expected, int exitCode = CommandRunner.Failed)
    {
        Assert.True(ExitCode == exitCode, $"exit code {ExitCode}, expected {exitCode}; stderr: {Error}; stdout: {Output}");
        var lines = Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, got {lines.Length}: {Error}");
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", Error + Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", Error + Output, StringComparison.Ordinal);
    }
}

/// <summary>
/// Runs the normsharp program (NormSharp.Cli.dll, copied beside the tests) as a user does, in its own process, so
/// that tests see its exit code, standard output and standard error separately.
/// </summary>
internal static class CliProcess
{
    private static readonly string Program = Path.Combine(AppContext.BaseDirectory, "NormSharp.Cli.dll");

    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Program);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return info;
    }

    /// <summary>Runs the program to its end (at most 5 minutes).</summary>
    public static CliRun Run(string workingDirectory, params string[] args)
    {
        Directory.CreateDirectory(workingDirectory);
        using var process = Process.Start(StartInfo(workingDirectory, args))!;
        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"normsharp {string.Join(' ', args)} did not finish in 5 minutes");
        }
        return new CliRun(process.ExitCode, output.Result, error.Result);
    }
}
