using System.CommandLine;
using System.CommandLine.Invocation;
using NormSharp.Cli.Experiments;
using Spectre.Console;

namespace NormSharp.Cli;

/// <summary>
/// How every command ends. A failure the user can fix (bad option, missing or unreadable file, unwritable output,
/// diverged training) is one line on standard error and exit code <see cref="Failed"/>, never a stack trace; Ctrl-C
/// stops the run cleanly (the command keeps what it completed) and exits with <see cref="Interrupted"/>; either way the
/// terminal's cursor, which progress bars hide, is shown again.
/// </summary>
internal static class CommandRunner
{
    /// <summary>Exit code of a failed command.</summary>
    public const int Failed = 1;

    /// <summary>Exit code after Ctrl-C: 128 + SIGINT, what shells report for a program the signal ended.</summary>
    public const int Interrupted = 130;

    /// <summary>
    /// Parses and runs a command line. Parse errors (unknown option, a value that is not a number) are written as one
    /// line to <paramref name="errors"/> (default: standard error), without the help text, and exit with
    /// <see cref="Failed"/>; help (--help) still prints as usual.
    /// </summary>
    public static int Invoke(Command root, string[] args, TextWriter? errors = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            // One mistake can give several errors ("--output x" is two unrecognized tokens): one line holds them all.
            WriteLine(errors ?? Console.Error, "error: " + string.Join(" ", parse.Errors.Select(error => error.Message).Distinct()));
            return Failed;
        }
        return parse.Invoke();
    }

    /// <summary>
    /// Runs a command body with a token that Ctrl-C cancels (a second Ctrl-C ends the process at once) and turns
    /// its expected failures into one line on <paramref name="errors"/> (default: standard error).
    /// </summary>
    public static int Run(IAnsiConsole console, Func<CancellationToken, int> body, TextWriter? errors = null)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(body);
        errors ??= Console.Error;
        using var interrupt = new CancellationTokenSource();
        void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            if (!interrupt.IsCancellationRequested)
            {
                e.Cancel = true;
                interrupt.Cancel();
            }
        }
        Console.CancelKeyPress += OnCancelKeyPress;
        try
        {
            return body(interrupt.Token);
        }
        catch (OperationCanceledException ex)
        {
            WriteLine(errors, "interrupted: " + ex.Message);
            return Interrupted;
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            WriteLine(errors, "error: " + ex.Message);
            return Failed;
        }
        finally
        {
            Console.CancelKeyPress -= OnCancelKeyPress;
            if (console.Profile.Capabilities.Ansi)
            {
                console.Cursor.Show();
            }
        }
    }

    /// <summary>Failures whose message tells the user what to change; anything else is a bug and keeps its stack trace.</summary>
    private static bool IsUserError(Exception ex) => ex is InvalidDataException or FileNotFoundException or DirectoryNotFoundException
        or ArgumentException or NotSupportedException or IOException or UnauthorizedAccessException or FormatException or TrainingDivergedException;

    /// <summary>One line, whatever the message holds (a strict checkpoint load lists every mismatched key on its own line).</summary>
    private static void WriteLine(TextWriter errors, string message)
    {
        errors.WriteLine(string.Join("; ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)));
        errors.Flush();
    }
}
