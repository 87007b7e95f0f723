using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>
/// Console output that reads well on a terminal and in a log: on a terminal, Spectre's width and rules; when the
/// output goes to a pipe or a file, lines are never wrapped (Spectre assumes 80 columns there) and headings are
/// plain lines.
/// </summary>
internal static class ConsoleSetup
{
    /// <summary>The width of a redirected output: wider than any line the commands print, so none is wrapped.</summary>
    public const int RedirectedWidth = 4096;

    /// <summary>Sets up <paramref name="console"/> for where its output goes.</summary>
    public static void ForOutput(IAnsiConsole console, bool outputRedirected)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (outputRedirected)
        {
            console.Profile.Width = RedirectedWidth;
        }
    }

    /// <summary>A section heading: a rule across a terminal, a plain bold line anywhere else.</summary>
    public static void Heading(IAnsiConsole console, string markup)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (console.Profile.Width >= RedirectedWidth || !console.Profile.Capabilities.Interactive)
        {
            console.MarkupLine(markup);
            return;
        }
        console.Write(new Rule(markup).LeftJustified());
    }
}
