namespace NormSharp.Cli.Experiments;

/// <summary>
/// What an experiment reports about one of its training runs while it trains; the command line shows it
/// (a Spectre.Console bar, or one line in a log), and the experiments need know nothing about the console.
/// </summary>
internal interface IRunProgress
{
    /// <summary>The run's name, as the experiment gave it (the trainer's spec takes it too).</summary>
    string Name { get; }

    /// <summary>An observer for the trainer that reports each step; <paramref name="onEval"/> also sees each evaluation, <paramref name="onEpochEnd"/> each completed epoch.</summary>
    TrainObserver Observer(Action<EvalPoint, NormSharp.Nn.Sequential>? onEval = null, Action<RunResult>? onEpochEnd = null);

    /// <summary>Reports a finished (or interrupted) run with its final accuracy and steps.</summary>
    void Complete(RunResult result);

    /// <summary>Reports a finished variable-length run of the sequence section (which has no curve, only a final accuracy).</summary>
    void CompleteVariableLength(VariableLengthRun result);
}
