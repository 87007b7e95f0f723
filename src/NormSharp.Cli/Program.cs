using System.CommandLine;

namespace NormSharp.Cli;

/// <summary>The <c>normsharp</c> command: trains networks with and without normalization and reports what it does.</summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        var root = new RootCommand("NormSharp: batch normalization for .NET, and what it does to training.");
        return root.Parse(args).Invoke();
    }
}
