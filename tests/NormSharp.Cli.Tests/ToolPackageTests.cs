using System.Diagnostics;
using System.Runtime.InteropServices;

namespace NormSharp.Cli.Tests;

/// <summary>
/// The tool as a user gets it: packed, installed from a local feed into a temporary tool path with
/// <c>dotnet tool install</c>, and run by its command name.
/// </summary>
public class ToolPackageTests
{
    /// <summary>An upper bound on the tool package, against the return of every runtime's natives and PDBs (191 MB once).</summary>
    private const long MaxPackageBytes = 64L << 20;

    [Fact]
    public void The_tool_installs_from_a_local_feed_and_runs_as_normsharp()
    {
        string root = RepositoryRoot();
        string temp = TestConsole.TempPath();
        try
        {
            string feed = Path.Combine(temp, "feed"), tools = Path.Combine(temp, "tools");
            Directory.CreateDirectory(temp);
            Run("dotnet", ["pack", Path.Combine(root, "src", "NormSharp.Cli"), "-c", "Release", "-o", feed], root);
            string package = Directory.GetFiles(feed, "NormSharp.Tool.*.nupkg").Single();
            Assert.InRange(new FileInfo(package).Length, 1, MaxPackageBytes);
            string version = Path.GetFileNameWithoutExtension(package)["NormSharp.Tool.".Length..];

            Run("dotnet", ["tool", "install", "NormSharp.Tool", "--version", version, "--tool-path", tools, "--add-source", feed], temp);
            string help = Run(Path.Combine(tools, "normsharp"), ["--help"], temp);
            Assert.Contains("normsharp [command] [options]", help, StringComparison.Ordinal);
            Assert.DoesNotContain("NormSharp.Cli", help, StringComparison.Ordinal);
            Assert.StartsWith(version, Run(Path.Combine(tools, "normsharp"), ["--version"], temp), StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(temp))
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    /// <summary>Runs a program to its end and returns its standard output; fails the test on a non-zero exit.</summary>
    private static string Run(string program, string[] args, string workingDirectory)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        // The installed command is an apphost: it finds the runtime through DOTNET_ROOT wherever .NET is installed.
        info.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(10)), $"{program} {string.Join(' ', args)} did not finish in 10 minutes");
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {output} {error.Result}");
        return output;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "NormSharp.slnx")))
            {
                return directory.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No NormSharp.slnx above {AppContext.BaseDirectory}.");
    }
}
