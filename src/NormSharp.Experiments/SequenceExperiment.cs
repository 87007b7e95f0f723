using NormSharp.Nn;

namespace NormSharp.Cli.Experiments;

/// <summary>What the sequence section measured: the row-by-row runs and the variable-length comparison.</summary>
internal sealed record SequenceResult(RunResult[] Runs, VariableLengthRun[] VariableLength, double[] TrueMean, double[] TrueVariance);

/// <summary>
/// One variable-length run: its test accuracy on cropped test images and how far its BatchNorm1d's running statistics
/// ended from the statistics of the valid (unpadded) rows.
/// </summary>
/// <param name="MeanError">Mean over the 28 features of |running_mean − true mean|.</param>
/// <param name="VarianceError">Σ |running_var − true variance| / Σ true variance over the features (a sum ratio: the border
/// columns are almost constant, and a per-feature ratio would divide by their near-zero variance).</param>
internal sealed record VariableLengthRun(
    string Name, bool Masked, int Steps, bool StoppedByBudget, double TestAccuracy, double MeanError, double VarianceError,
    double[] RunningMean, double[] RunningVar, double Seconds);

/// <summary>
/// The demo's sequence section. (a) Fashion-MNIST read row by row (28 steps of 28 features) by an LSTM, the
/// batch-normalized LSTM of Cooijmans et al. (2016) and the layer-normalized LSTM of Ba et al. (2016): test accuracy
/// against training steps. (b) Variable-length batches: each image cropped to its first k rows (k uniform in
/// [<see cref="MinLength"/>, 28]) and zero-padded, then BatchNorm1d over the 28 features → LSTM (with the lengths) →
/// Linear; the batch norm's statistics either skip the padding (BatchNorm1d.Forward(input, mask)) or include it (plain
/// BatchNorm1d, pytorch#70529): test accuracy and the bias of the running statistics.
/// </summary>
internal static class SequenceExperiment
{
    /// <summary>The shortest crop, in rows.</summary>
    public const int MinLength = 7;

    /// <summary>Hidden units of the variable-length model's LSTM.</summary>
    private const int VariableLengthHidden = 64;

    /// <summary>Names of the runs, in the order they run, for the progress bars.</summary>
    public static string[] RunNames() => ["bnlstm", "lstm", "lnlstm", "masked BN + LSTM, variable lengths", "plain BN + LSTM, variable lengths"];

    public static RunSpec Spec(ModelKind model, DemoBudget budget, int seed) =>
        new(Choices.Name(model), model, model switch { ModelKind.BnLstm => NormKind.Batch, ModelKind.LnLstm => NormKind.Layer, _ => NormKind.None },
            OptimizerKind.Adam, 1e-3, 64, seed);

    public static SequenceResult Run(ExperimentData data, DemoBudget budget, int seed, DateTime stageDeadline, IReadOnlyList<IRunProgress> progress, CancellationToken cancellation)
    {
        var rowsDeadline = new TimeBudget((stageDeadline - DateTime.UtcNow).TotalSeconds).StageDeadline(0.7, 1.0);
        // The slowest model first; the others then take no more steps than it managed, so the curves compare step for step.
        var runs = new List<RunResult>();
        int steps = budget.SequenceSteps;
        foreach (var (model, index) in new[] { ModelKind.BnLstm, ModelKind.Lstm, ModelKind.LnLstm }.Select((m, i) => (m, i)))
        {
            var run = Trainer.Run(Spec(model, budget, seed), data.Train, data.Test, data.EvalSet, steps, budget.SequenceEvalEvery,
                TimeBudget.RunDeadline(rowsDeadline, 3 - index), progress[index].Observer(), cancellation);
            progress[index].Complete(run);
            runs.Add(run);
            steps = Math.Min(steps, run.StepsDone);
        }
        var (trueMean, trueVariance) = ValidRowStatistics(data.Train, seed);
        var variable = new List<VariableLengthRun>();
        int variableSteps = budget.VariableLengthSteps;
        foreach (bool masked in new[] { true, false })
        {
            var run = TrainVariableLength(data, masked, variableSteps, seed, TimeBudget.RunDeadline(stageDeadline, masked ? 2 : 1), trueMean, trueVariance, progress[masked ? 3 : 4], cancellation);
            variable.Add(run);
            variableSteps = Math.Min(variableSteps, run.Steps);
        }
        return new SequenceResult([.. runs], [.. variable], trueMean, trueVariance);
    }

    /// <summary>Copies of the images (N, rows, columns) with every row from lengths[n] on set to 0.</summary>
    public static Tensor Cropped(Tensor images, int[] lengths)
    {
        int batch = images.Size(0), rows = images.Size(-2), columns = images.Size(-1);
        var copy = images.Detach().Clone().Reshape(batch, rows, columns);
        var values = copy.AsSpan();
        for (int n = 0; n < batch; n++)
        {
            values.Slice((n * rows + lengths[n]) * columns, (rows - lengths[n]) * columns).Clear();
        }
        return copy;
    }

    /// <summary>A crop length per sample, uniform in [MinLength, rows].</summary>
    public static int[] RandomLengths(Generator generator, int count, int rows) =>
        [.. Enumerable.Range(0, count).Select(_ => MinLength + generator.NextInt(rows - MinLength + 1))];

    private static VariableLengthRun TrainVariableLength(
        ExperimentData data, bool masked, int steps, int seed, DateTime deadline, double[] trueMean, double[] trueVariance, IRunProgress progress, CancellationToken cancellation)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int rows = data.Train.SampleShape[^2], columns = data.Train.SampleShape[^1];
        var generator = new Generator(seed);
        var model = new VariableLengthClassifier(rows, columns, VariableLengthHidden, data.Train.ClassCount, masked, generator);
        var optimizer = new NormSharp.Optim.Adam(model.Parameters(), 1e-3);
        // The same batches and crops for both runs: only the batch norm's treatment of the padding differs.
        var crops = new Generator(seed + 17);
        var loader = new NormSharp.Data.DataLoader(data.Train, 64, shuffle: true, dropLast: true, generator: new Generator(seed + 1));
        var observer = progress.Observer();
        int step = 0;
        bool stopped = false;
        while (step < steps && !stopped)
        {
            foreach (var batch in loader)
            {
                if (step >= steps)
                {
                    break;
                }
                if (DateTime.UtcNow >= deadline || cancellation.IsCancellationRequested)
                {
                    stopped = true;
                    break;
                }
                var lengths = RandomLengths(crops, batch.Count, rows);
                using (Tensor.NewDisposeScope())   // the step's activations and gradients go back to the pool when it ends
                {
                    optimizer.ZeroGrad();
                    var loss = Models.Loss(model.Forward(Cropped(batch.Images, lengths), lengths), batch.Labels);
                    loss.Backward();
                    optimizer.Step();
                }
                step++;
                observer.OnStep?.Invoke(step, steps);
            }
        }
        double accuracy = VariableLengthAccuracy(model, data.Test, seed);
        var runningMean = model.Norm.RunningMean!.ToArray().Select(v => (double)v).ToArray();
        var runningVar = model.Norm.RunningVar!.ToArray().Select(v => (double)v).ToArray();
        double meanError = runningMean.Zip(trueMean, (r, t) => Math.Abs(r - t)).Average();
        double varianceError = runningVar.Zip(trueVariance, (r, t) => Math.Abs(r - t)).Sum() / trueVariance.Sum();
        var result = new VariableLengthRun(masked ? "masked batch norm" : "plain batch norm over the padding", masked, step, stopped, accuracy,
            meanError, varianceError, runningMean, runningVar, clock.Elapsed.TotalSeconds);
        progress.CompleteVariableLength(result);
        return result;
    }

    /// <summary>Accuracy on the test set cropped with lengths that depend only on the seed (the same for both runs), in evaluation mode.</summary>
    private static double VariableLengthAccuracy(VariableLengthClassifier model, NormSharp.Data.Dataset test, int seed)
    {
        model.Eval();
        using var _ = new NormSharp.Autograd.NoGrad();
        var crops = new Generator(seed + 29);
        int correct = 0, rows = test.SampleShape[^2];
        foreach (var batch in new NormSharp.Data.DataLoader(test, 200))
        {
            var lengths = RandomLengths(crops, batch.Count, rows);
            correct += Evaluation.CountCorrect(model.Forward(Cropped(batch.Images, lengths), lengths), batch.Labels);
        }
        model.Train();
        return (double)correct / test.Count;
    }

    /// <summary>Per feature (column), the mean and unbiased variance of the valid rows of randomly cropped training images.</summary>
    private static (double[] Mean, double[] Variance) ValidRowStatistics(NormSharp.Data.Dataset train, int seed)
    {
        int rows = train.SampleShape[^2], columns = train.SampleShape[^1];
        int samples = Math.Min(train.Count, 10_000);
        var images = train.Images.Detach().ToArray();
        var mean = new double[columns];
        var variance = new double[columns];
        long count = 0;
        // Two passes over the same crops (the generator is re-seeded): mean first, then squared deviations.
        foreach (bool second in new[] { false, true })
        {
            var crops = new Generator(seed + 41);
            for (int n = 0; n < samples; n++)
            {
                int length = RandomLengths(crops, 1, rows)[0];
                count += second ? 0 : length;
                for (int r = 0; r < length; r++)
                {
                    for (int c = 0; c < columns; c++)
                    {
                        double value = images[(n * rows + r) * columns + c];
                        if (second)
                        {
                            variance[c] += (value - mean[c]) * (value - mean[c]);
                        }
                        else
                        {
                            mean[c] += value;
                        }
                    }
                }
            }
            for (int c = 0; c < columns; c++)
            {
                if (second)
                {
                    variance[c] /= count - 1;
                }
                else
                {
                    mean[c] /= count;
                }
            }
        }
        return (mean, variance);
    }
}

/// <summary>
/// Padded images (N, rows, columns) with their lengths → BatchNorm1d over the features (channels last), with the mask or
/// plain → LSTM over the valid rows only → its final state → Linear. Children <c>norm</c>, <c>rnn</c>, <c>head</c>.
/// </summary>
internal sealed class VariableLengthClassifier : Module
{
    private readonly LSTM recurrent;
    private readonly Linear head;
    private readonly bool masked;

    public VariableLengthClassifier(int rows, int columns, int hidden, int classCount, bool masked, Generator generator)
    {
        Rows = rows;
        this.masked = masked;
        Norm = RegisterModule("norm", new BatchNorm1d(columns, channelAxis: -1));
        recurrent = RegisterModule("rnn", new LSTM(columns, hidden, batchFirst: true, generator: generator));
        head = RegisterModule("head", new Linear(hidden, classCount, generator: generator));
    }

    public int Rows { get; }

    public BatchNorm1d Norm { get; }

    /// <summary>Full-length images [N, 1, rows, columns].</summary>
    public override Tensor Forward(Tensor input) =>
        Forward(input.Reshape(input.Size(0), Rows, -1), [.. Enumerable.Repeat(Rows, input.Size(0))]);

    /// <summary>Padded images (N, rows, columns) whose sample n has lengths[n] valid rows.</summary>
    public Tensor Forward(Tensor padded, int[] lengths)
    {
        var normalized = masked ? Norm.Forward(padded, SequenceMask.FromLengths(lengths, Rows)) : Norm.Forward(padded);
        var (_, (h, _)) = recurrent.Forward(normalized, null, lengths);
        return head.Forward(h[0]);
    }
}
