using NormSharp.Cli.Reporting;

namespace NormSharp.Cli;

/// <summary>
/// Checks of the training options that <c>train</c> and <c>compare</c> share, made before anything is loaded or
/// written, so that a bad option costs nothing and leaves nothing behind.
/// </summary>
internal static class RunChecks
{
    /// <summary>Checks the optimizer options and --train-limit (--epochs, --batch-size and --lr: <see cref="TrainCommand.Validate"/>).</summary>
    /// <exception cref="ArgumentException">An option is out of range; the message names it and its value.</exception>
    public static void Validate(double momentum, double weightDecay, int? trainLimit)
    {
        if (!(momentum >= 0) || !double.IsFinite(momentum))
        {
            throw new ArgumentException($"--momentum must be a finite number >= 0, got {Format(momentum)}.");
        }
        if (!(weightDecay >= 0) || !double.IsFinite(weightDecay))
        {
            throw new ArgumentException($"--weight-decay must be a finite number >= 0, got {Format(weightDecay)}.");
        }
        if (trainLimit is <= 0)
        {
            throw new ArgumentException($"--train-limit must be > 0, got {trainLimit}.");
        }
    }

    /// <summary>Full batches per epoch (the last, partial batch is dropped).</summary>
    /// <exception cref="ArgumentException">Not one full batch fits in the training set.</exception>
    public static int StepsPerEpoch(int trainCount, int batchSize) => trainCount >= batchSize
        ? trainCount / batchSize
        : throw new ArgumentException($"--batch-size {batchSize} is larger than the training set ({trainCount.Counted("image")}): not one full batch per epoch.");

    /// <summary>The optimizer steps of <paramref name="epochs"/> epochs.</summary>
    /// <exception cref="ArgumentException">More steps than a run can count (int.MaxValue).</exception>
    public static int TotalSteps(int epochs, int stepsPerEpoch)
    {
        long steps = (long)epochs * stepsPerEpoch;
        return steps <= int.MaxValue
            ? (int)steps
            : throw new ArgumentException(
                $"--epochs {epochs:N0} × {stepsPerEpoch.Counted("step")} per epoch is {steps:N0} steps, more than the {int.MaxValue:N0} a run can count: " +
                $"use at most {int.MaxValue / stepsPerEpoch:N0} epochs.");
    }

    private static string Format(double value) => value.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
}
