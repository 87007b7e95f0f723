using System.CommandLine;

namespace NormSharp.Cli;

/// <summary>The <c>normsharp</c> command: trains networks with and without normalization and reports what it does.</summary>
internal static class Program
{
    private static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    /// <summary>The command tree: demo, train, compare, export.</summary>
    public static RootCommand BuildRoot() => new("NormSharp: batch normalization for .NET, and what it does to training.")
    {
        DemoCommand.Create(),
        TrainCommand.Create(),
        CompareCommand.Create(),
        ExportCommand.Create(),
    };
}
