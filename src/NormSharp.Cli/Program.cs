using System.CommandLine;

namespace NormSharp.Cli;

/// <summary>The <c>normsharp</c> command: trains networks with and without normalization and reports what it does.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        ConsoleSetup.ForOutput(Spectre.Console.AnsiConsole.Console, Console.IsOutputRedirected);
        return CommandRunner.Invoke(BuildRoot(), args);
    }

    /// <summary>The command tree: demo, train, compare, export. Named "normsharp", the installed command, rather than after the assembly.</summary>
    public static Command BuildRoot() => new("normsharp", "NormSharp: batch normalization for .NET, and what it does to training.")
    {
        new System.CommandLine.Help.HelpOption(),
        new VersionOption(),
        DemoCommand.Create(),
        TrainCommand.Create(),
        CompareCommand.Create(),
        ExportCommand.Create(),
    };
}
