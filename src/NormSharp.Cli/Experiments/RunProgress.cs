using System.Globalization;
using Spectre.Console;

namespace NormSharp.Cli.Experiments;

/// <summary>A progress bar for one training run (Spectre.Console), showing the latest test accuracy.</summary>
internal sealed class RunProgress(ProgressTask? task, string name)
{
    public string Name { get; } = name;

    /// <summary>An observer that moves the bar; <paramref name="onEval"/> also sees each evaluation.</summary>
    public TrainObserver Observer(Action<EvalPoint, NormSharp.Nn.Sequential>? onEval = null) => new()
    {
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
        if (task is null)
        {
            return;
        }
        task.Description = $"{Markup.Escape(Name)} [green]{result.FinalTestAccuracy.ToString("0.000", CultureInfo.InvariantCulture)}[/]" +
            (result.StoppedByBudget ? $" [yellow](time budget: {result.StepsDone} steps)[/]" : "");
        task.MaxValue = Math.Max(1, result.StepsDone);
        task.Value = task.MaxValue;
        task.StopTask();
    }
}
