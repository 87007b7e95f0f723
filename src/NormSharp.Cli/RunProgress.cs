using System.Globalization;
using Spectre.Console;

namespace NormSharp.Cli.Experiments;

/// <summary>
/// The command line's <see cref="IRunProgress"/> for one training run: a Spectre.Console bar showing the latest test accuracy on an
/// interactive terminal; on a redirected output (a log, CI), one line when the run ends instead of
/// a redrawn table of bars.
/// </summary>
internal sealed class RunProgress : IRunProgress
{
    private readonly ProgressTask? task;
    private readonly IAnsiConsole? plain;

    private RunProgress(ProgressTask? task, IAnsiConsole? plain, string name)
    {
        this.task = task;
        this.plain = plain;
        Name = name;
    }

    public string Name { get; }

    /// <summary>
    /// Runs <paramref name="body"/> with a factory of progress reporters (name, planned steps): inside a
    /// Spectre progress display when the console is interactive, as plain lines otherwise.
    /// </summary>
    public static void Display(IAnsiConsole console, Action<Func<string, int, RunProgress>> body)
    {
        if (!console.Profile.Capabilities.Interactive)
        {
            body((name, _) => new RunProgress(null, console, name));
            return;
        }
        console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(context => body((name, steps) => new RunProgress(context.AddTask(Markup.Escape(name), maxValue: Math.Max(1, steps)), null, name)));
    }

    /// <summary>An observer that moves the bar; <paramref name="onEval"/> also sees each evaluation, <paramref name="onEpochEnd"/> each completed epoch.</summary>
    public TrainObserver Observer(Action<EvalPoint, NormSharp.Nn.Sequential>? onEval = null, Action<RunResult>? onEpochEnd = null) => new()
    {
        OnEpochEnd = onEpochEnd,
        OnStep = (step, steps) =>
        {
            if (task is null)
            {
                return;
            }
            task.MaxValue = steps;
            task.Value = step;
        },
        OnEval = (point, model) =>
        {
            if (task is not null)
            {
                task.Description = $"{Markup.Escape(Name)} [grey]test acc[/] {point.TestAccuracy.ToString("0.000", CultureInfo.InvariantCulture)}";
            }
            onEval?.Invoke(point, model);
        },
    };

    public void Complete(RunResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        if (result.Interrupted)
        {
            // The bar stays where Ctrl-C stopped it; the command says what was kept.
            if (task is not null)
            {
                task.Description = $"{Markup.Escape(Name)} [yellow]interrupted[/]";
                task.StopTask();
            }
            return;
        }
        string budget = result.StoppedByBudget ? $" [yellow](time budget: {result.StepsDone:N0} steps)[/]" : "";
        if (plain is not null)
        {
            plain.MarkupLine($"[green]done[/] {Markup.Escape(Name)}: test accuracy {result.FinalTestAccuracy.ToString("0.000", CultureInfo.InvariantCulture)}, " +
                $"{result.StepsDone:N0} steps, {result.TotalSeconds:0.0} s{budget}");
        }
        if (task is null)
        {
            return;
        }
        task.Description = $"{Markup.Escape(Name)} [green]{result.FinalTestAccuracy.ToString("0.000", CultureInfo.InvariantCulture)}[/]{budget}";
        task.MaxValue = Math.Max(1, result.StepsDone);
        task.Value = task.MaxValue;
        task.StopTask();
    }

    /// <summary>Ends the bar of a variable-length run of the sequence section (which has no curve, only a final accuracy).</summary>
    public void CompleteVariableLength(VariableLengthRun result)
    {
        string budget = result.StoppedByBudget ? $" [yellow](time budget: {result.Steps:N0} steps)[/]" : "";
        string accuracy = result.TestAccuracy.ToString("0.000", CultureInfo.InvariantCulture);
        plain?.MarkupLine($"[green]done[/] {Markup.Escape(Name)}: test accuracy {accuracy}, {result.Steps:N0} steps, {result.Seconds:0.0} s{budget}");
        if (task is null)
        {
            return;
        }
        task.Description = $"{Markup.Escape(Name)} [green]{accuracy}[/]{budget}";
        task.MaxValue = Math.Max(1, result.Steps);
        task.Value = task.MaxValue;
        task.StopTask();
    }
}
