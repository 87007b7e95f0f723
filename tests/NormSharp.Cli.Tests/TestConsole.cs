using Spectre.Console;

namespace NormSharp.Cli.Tests;

/// <summary>A plain, non-interactive Spectre console writing into a string, and a temporary folder.</summary>
internal static class TestConsole
{
    public static (IAnsiConsole Console, StringWriter Output) Create()
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        return (console, writer);
    }

    public static string TempPath() => Path.Combine(Path.GetTempPath(), "normsharp-cli-test-" + Guid.NewGuid().ToString("N"));

    /// <summary>The embedded data set, read once for all tests.</summary>
    public static LoadedData Embedded => EmbeddedData.Value;

    private static readonly Lazy<LoadedData> EmbeddedData = new(DataSource.Embedded);
}
